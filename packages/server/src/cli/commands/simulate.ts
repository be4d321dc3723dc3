import { type FlipKind, parseFlipKind } from '@arden/policy';
import { environmentOption, type Parsed, required, text } from '../args';
import { clientFor } from '../client';
import { type CliIo, exitCodes, UsageError } from '../io';
import { loadPolicyFile } from './policies';

// `arden policies simulate`: a policy file replayed over a window of the real log (on the
// server), the flips by kind, and a non-zero exit when a forbidden flip happens (the file's
// `simulation.forbid`, plus --fail-on), so a pull request that changes policies can gate on it.

interface FlipSummary {
  changed: number;
  kinds: Partial<Record<FlipKind, number>>;
}

const shown = (kind: string) => kind.replaceAll('requires_approval', 'held').replace('->', ' → ');

function forbiddenKinds(parsed: Parsed): FlipKind[] {
  const values = parsed.values['fail-on'];
  const list = (Array.isArray(values) ? values : typeof values === 'string' ? [values] : [])
    .flatMap((value) => String(value).split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
  return list.map((value) => {
    const kind = parseFlipKind(value);
    if (!kind) {
      throw new UsageError(
        `--fail-on "${value.slice(0, 40)}" is not a flip. Write BEFORE->AFTER with allow, held (requires_approval) or block, e.g. --fail-on allow->block,held->block.`,
      );
    }
    return kind;
  });
}

function printKinds(io: CliIo, title: string, summary: FlipSummary): void {
  io.stdout(`${title}: ${summary.changed} call${summary.changed === 1 ? '' : 's'} would change\n`);
  const kinds = Object.entries(summary.kinds).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0));
  for (const [kind, count] of kinds) io.stdout(`  ${shown(kind).padEnd(24)} ${count}\n`);
}

/** `arden policies simulate -f FILE --agent NAME [--since 30d] [--tool T] [--sample N] [--fail-on K]` */
export async function simulateCommand(parsed: Parsed, io: CliIo): Promise<number> {
  const agent = required(parsed, 'agent', 'policies simulate');
  const environment = environmentOption(parsed, 'test');
  const files = parsed.values.file;
  const path = Array.isArray(files) ? files[0] : typeof files === 'string' ? files : undefined;
  if (path === undefined)
    throw new UsageError('arden policies simulate needs -f FILE (a policies.yaml).');
  const flagged = forbiddenKinds(parsed);
  const sampleText = text(parsed, 'sample');
  const sample = sampleText === undefined ? undefined : Number(sampleText);
  if (sample !== undefined && (!Number.isInteger(sample) || sample < 1)) {
    throw new UsageError(
      `--sample must be a whole number of calls, such as 10000; got "${sampleText}".`,
    );
  }
  const file = loadPolicyFile(String(path), io);
  // The file's own list, and the flag's on top of it.
  const forbidden = [...new Set([...file.simulation.forbid, ...flagged])];
  const source = (kind: FlipKind) =>
    [
      file.simulation.forbid.includes(kind) ? `${path}'s simulation.forbid` : undefined,
      flagged.includes(kind) ? '--fail-on' : undefined,
    ]
      .filter((item) => item !== undefined)
      .join(' and ');
  const client = clientFor(io, { url: text(parsed, 'url'), token: text(parsed, 'token') });
  const since = text(parsed, 'since') ?? '30d';
  const result = await client.request(
    'POST',
    `/api/v1/agents/${encodeURIComponent(agent)}/policies/${environment}/simulate/history`,
    { policies: file.policies, since, tool: text(parsed, 'tool'), sample, max_flips: 20 },
    { timeoutMs: 15 * 60_000 },
  );
  if (parsed.values.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  else {
    io.stdout(
      `${path} over ${agent}'s ${environment} log, ${result.from ? `from ${result.from}` : 'all of it'} to ${result.to}${result.tool ? `, tool ${result.tool}` : ''}:\n`,
    );
    io.stdout(
      `  ${result.total} call${result.total === 1 ? '' : 's'} in the window, ${result.evaluated} decided${result.sampled ? ' (an even sample)' : ''}\n`,
    );
    printKinds(io, 'Against the current policies', result.vs_current);
    printKinds(io, 'Against the logged decisions', result.vs_logged);
    if (result.flips.length > 0) {
      io.stdout(
        `First ${result.flips.length} changed call${result.flips.length === 1 ? '' : 's'}:\n`,
      );
      for (const flip of result.flips) {
        io.stdout(
          `  ${flip.created_at}  ${flip.tool_name}  current ${shown(flip.current.decision)} → draft ${shown(flip.draft.decision)}${flip.draft.policy ? ` (${flip.draft.policy})` : ''}; logged ${shown(flip.logged)}  ${flip.action_id}\n`,
        );
      }
    }
  }
  const hits = forbidden.filter((kind) => (result.vs_current.kinds[kind] ?? 0) > 0);
  if (hits.length > 0) {
    io.stderr(
      `Forbidden flips against the current policies: ${hits.map((kind) => `${result.vs_current.kinds[kind]} × ${shown(kind)} (${source(kind)})`).join(', ')}.\n`,
    );
    return exitCodes.failure;
  }
  return exitCodes.ok;
}
