import { type Arden, ardenToolName, buildCallContext, getArden } from '@arden/core';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import { policyInput, sessionOf } from './guard';

/** Options of `ArdenCallbackHandler`. */
export interface CallbackHandlerOptions {
  /** Prepended to every tool's name in Arden, for example `'support.'`. Default: none. */
  toolNamePrefix?: string;
  /** Send the tool's output with the logged action (in its metadata). Default false. */
  includeOutput?: boolean;
  /** Extra metadata sent with every logged call. */
  metadata?: Record<string, unknown>;
  /** The Arden instance to log to. Default: the one `configure()` made. */
  arden?: Arden | (() => Arden);
}

interface StartedTool {
  toolName: string;
  input: unknown;
  session: string | undefined;
  toolCallId: string | undefined;
  started: number;
}

function parseInput(input: string): unknown {
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

function outputText(output: unknown): string {
  const content = (output as { content?: unknown } | undefined)?.content ?? output;
  if (typeof content === 'string') return content;
  try {
    return JSON.stringify(content) ?? '';
  } catch {
    return String(content);
  }
}

/**
 * A LangChain callback handler that logs every tool call it sees in Arden's action log,
 * **without enforcing** policies (the TypeScript counterpart of ardenpy's `ArdenCallbackHandler`):
 * when a tool finishes, its call is sent to Arden (as a check marked `observe_only`) and its
 * outcome reported. Use it for visibility on agents you do not want to gate; enforcement comes
 * from `configure()`, `protectTools()` or `ardenMiddleware()`. Logging never delays or fails the
 * run; call `flush()` before the process exits.
 *
 * ```ts
 * await agent.invoke(input, { callbacks: [new ArdenCallbackHandler()] });
 * ```
 */
export class ArdenCallbackHandler extends BaseCallbackHandler {
  name = 'ArdenCallbackHandler';
  // Run inline (not on LangChain's background queue) so the caller's session is seen; the
  // network work itself is not awaited.
  override awaitHandlers = true;
  private readonly settings: CallbackHandlerOptions;
  private readonly started = new Map<string, StartedTool>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(options: CallbackHandlerOptions = {}) {
    super();
    this.settings = options;
  }

  override handleToolStart(
    tool: { name?: string; id?: string[] },
    input: string,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
    toolCallId?: string,
  ): void {
    const name = runName ?? tool?.name ?? tool?.id?.at(-1) ?? 'unknown';
    this.started.set(runId, {
      toolName: ardenToolName(this.settings, name),
      input: parseInput(input),
      session: sessionOf({ metadata }),
      toolCallId,
      started: performance.now(),
    });
  }

  override handleToolEnd(output: unknown, runId: string): void {
    this.log(runId, { status: 'succeeded', output });
  }

  override handleToolError(error: unknown, runId: string): void {
    this.log(runId, {
      status: 'failed',
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
  }

  /** Waits until every logged call has been sent. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private log(
    runId: string,
    outcome: { status: 'succeeded' | 'failed'; output?: unknown; error?: string },
  ): void {
    const call = this.started.get(runId);
    this.started.delete(runId);
    if (!call) return;
    let arden: Arden;
    try {
      const configured = this.settings.arden;
      arden =
        configured === undefined
          ? getArden()
          : typeof configured === 'function'
            ? configured()
            : configured;
    } catch {
      return;
    }
    const durationMs = Math.round((performance.now() - call.started) * 1000) / 1000;
    const metadata: Record<string, unknown> = {
      ...this.settings.metadata,
      framework: 'langchain',
      observe_only: true,
      ...(call.toolCallId === undefined ? {} : { tool_call_id: call.toolCallId }),
      ...(call.session === undefined ? {} : { session_id: call.session }),
      ...(this.settings.includeOutput && outcome.output !== undefined
        ? { output: outputText(outcome.output) }
        : {}),
    };
    const work = arden
      .check(call.toolName, buildCallContext([policyInput(call.input)]), metadata)
      .then((result) => {
        arden.reportResult(result.actionId, {
          status: outcome.status,
          duration_ms: durationMs,
          ...(outcome.error === undefined ? {} : { error: outcome.error }),
        });
      })
      .catch((error: unknown) => {
        arden.options.logger.warn('ArdenCallbackHandler could not log a tool call.', {
          tool: call.toolName,
          error: String(error),
        });
      });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }
}
