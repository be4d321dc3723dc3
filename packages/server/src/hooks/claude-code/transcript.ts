import { readFile } from 'node:fs/promises';

/** One model's tokens in a Claude Code transcript. */
export interface TranscriptUsage {
  model: string;
  /** Input tokens, cache reads and cache writes included. */
  promptTokens: number;
  completionTokens: number;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value) : 0;
}

/**
 * Reads the token usage per model of the assistant messages in a Claude Code transcript (JSON
 * lines), skipping the message ids in `counted` and adding the ids it reads to it. Only the
 * `message.id`, `message.model` and `message.usage` of assistant entries are read: nothing of
 * the conversation leaves this function. A message streamed as several entries is counted once.
 */
export async function transcriptUsage(
  path: string,
  counted: Set<string> = new Set(),
): Promise<TranscriptUsage[]> {
  const text = await readFile(path, 'utf8');
  const totals = new Map<string, TranscriptUsage>();
  for (const line of text.split('\n')) {
    if (!line.includes('"assistant"') || !line.includes('"usage"')) continue;
    let entry: any;
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // a line being written
    }
    const message = entry?.type === 'assistant' ? entry.message : undefined;
    const usage = message?.usage;
    if (!usage || typeof message.model !== 'string' || message.model === '<synthetic>') continue;
    const id = typeof message.id === 'string' ? message.id : undefined;
    if (id !== undefined) {
      if (counted.has(id)) continue;
      counted.add(id);
    }
    const total = totals.get(message.model) ?? {
      model: message.model,
      promptTokens: 0,
      completionTokens: 0,
    };
    total.promptTokens +=
      count(usage.input_tokens) +
      count(usage.cache_read_input_tokens) +
      count(usage.cache_creation_input_tokens);
    total.completionTokens += count(usage.output_tokens);
    totals.set(message.model, total);
  }
  return [...totals.values()].filter((total) => total.promptTokens + total.completionTokens > 0);
}
