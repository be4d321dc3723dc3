import {
  type Arden,
  ardenResolver,
  ardenToolName,
  ConfigurationError,
  denialOf,
  denialText,
  type EditedCall,
  type GuardOptions,
  guardTool,
  isPendingApproval,
  type ToolDenial,
  toJsonSafe,
  validateGuardArguments,
  withEditedCallNote,
} from '@arden/core';

/** A tool call of an assistant message (`message.tool_calls[i]`), function or custom. */
export type ToolCallLike =
  | { id: string; type?: 'function'; function: { name: string; arguments: string } }
  | { id: string; type: 'custom'; custom: { name: string; input: string } };

/** A tool message for the next Chat Completions request. */
export interface ToolMessage {
  role: 'tool';
  tool_call_id: string;
  content: string;
}

/** Options of `register()`. */
export interface RegisterOptions<Result = unknown> {
  /**
   * The tool's name in Arden, exactly as written (`toolNamePrefix` does not apply to it).
   * Default: `toolNamePrefix` followed by the name the model calls it by.
   */
  ardenName?: string;
  /**
   * `'wait'` (default) holds the call until an approver decides. `'async'` and `'webhook'` answer
   * the model at once that the call awaits approval, and run the tool later (see `@arden/core`).
   */
  approvalMode?: 'wait' | 'async' | 'webhook';
  /** Async and webhook modes: called with the result once a held call was approved and ran. */
  onApproval?: GuardOptions<Result>['onApproval'];
  /** Async and webhook modes: called when a held call was denied, expired or failed. */
  onDenial?: GuardOptions<Result>['onDenial'];
  /** Extra metadata sent with each check of this tool. */
  metadata?: Record<string, unknown>;
}

/** Options of `new ArdenToolExecutor()`. */
export interface ArdenToolExecutorOptions {
  /** The Arden instance to use. Default: the one `configure()` made, looked up at call time. */
  arden?: Arden | (() => Arden);
  /** Prepended to every tool's name in Arden, for example `'support.'`. */
  toolNamePrefix?: string;
  /**
   * `toolMessages()` throws `PolicyDeniedError` (or `ApprovalTimeoutError`,
   * `ArdenUnavailableError`) instead of answering the model that the call did not run.
   */
  throwOnDenial?: boolean;
  /** The tool message content when a call did not run. */
  denialMessage?: (denial: ToolDenial) => string;
  /**
   * What `toolMessages()` does when a tool throws: `'throw'` (default) rejects with the error;
   * `'message'` answers the model with the error's message so it can recover.
   */
  toolErrors?: 'throw' | 'message';
  /** Turns a tool's result into message content. Default: strings as they are, else JSON. */
  serialize?: (result: unknown) => string;
  /** Extra metadata sent with every check. */
  metadata?: Record<string, unknown>;
}

type ToolFunction = (args: any) => unknown;

interface RegisteredTool {
  fn: ToolFunction;
  options: RegisterOptions<any>;
}

function defaultSerialize(result: unknown): string {
  if (typeof result === 'string') return result;
  if (result === undefined) return '';
  return JSON.stringify(toJsonSafe(result));
}

function nameAndInput(call: ToolCallLike): { name: string; input: string } {
  if ('custom' in call && call.custom) return { name: call.custom.name, input: call.custom.input };
  const fn = (call as { function?: { name?: unknown; arguments?: unknown } }).function;
  return {
    name: typeof fn?.name === 'string' ? fn.name : '',
    input: typeof fn?.arguments === 'string' ? fn.arguments : '',
  };
}

/**
 * Runs the tools of a Chat Completions loop, each call checked by Arden first: allowed calls
 * run, blocked and denied ones do not (the model is told why), calls that need approval wait.
 *
 * ```ts
 * const tools = new ArdenToolExecutor()
 *   .register('issue_refund', async ({ amount, customerId }) => refund(amount, customerId));
 * const message = completion.choices[0].message;
 * messages.push(message, ...(await tools.toolMessages(message.tool_calls)));
 * ```
 */
export class ArdenToolExecutor {
  private readonly tools = new Map<string, RegisteredTool>();
  private readonly options: ArdenToolExecutorOptions;

  constructor(options: ArdenToolExecutorOptions = {}) {
    this.options = options;
  }

  /**
   * Registers a tool under the name the model calls it by. `fn` receives the parsed JSON
   * arguments (an object) of a function tool, or the raw input string of a custom tool.
   * Returns the executor, for chaining.
   */
  register<Args = any, Result = unknown>(
    name: string,
    fn: (args: Args) => Result | Promise<Result>,
    options: RegisterOptions<Awaited<Result>> = {},
  ): this {
    const mode = options.approvalMode ?? 'wait';
    validateGuardArguments('register', name, fn, mode);
    this.tools.set(name, { fn: fn as ToolFunction, options });
    if (mode === 'webhook' && this.options.arden === undefined) {
      // Core keeps webhook-mode tools by name, so that a decision arriving after a restart (when
      // the process that made the call is gone) still runs the tool and its callbacks.
      guardTool(this.ardenName(name), fn, {
        approvalMode: 'webhook',
        ...(options.onApproval ? { onApproval: options.onApproval } : {}),
        ...(options.onDenial ? { onDenial: options.onDenial } : {}),
      });
    }
    return this;
  }

  /** Whether a tool of that name is registered. */
  has(name: string): boolean {
    return this.tools.has(name);
  }

  /** The registered tool names. */
  get names(): string[] {
    return [...this.tools.keys()];
  }

  /**
   * The name Arden knows a tool by, by the adapters' one naming rule: its `ardenName` exactly as
   * written, else `toolNamePrefix` followed by the registered name.
   */
  ardenName(name: string): string {
    const ardenName = this.tools.get(name)?.options.ardenName;
    return ardenToolName(
      {
        ...(this.options.toolNamePrefix === undefined
          ? {}
          : { toolNamePrefix: this.options.toolNamePrefix }),
        ...(ardenName === undefined ? {} : { toolNames: { [name]: ardenName } }),
      },
      name,
    );
  }

  private arden(): Arden {
    return ardenResolver(this.options.arden)();
  }

  /**
   * Runs one call and returns the tool message content. `argsOrJson` is the call's arguments,
   * parsed or as the model's JSON string. Throws `PolicyDeniedError` when a policy blocks the
   * call or an approver denies it (the tool does not run), `ApprovalTimeoutError`,
   * `ArdenUnavailableError`, or whatever the tool throws. In `async`/`webhook` mode a held call
   * returns a content that says it awaits approval.
   */
  async run(name: string, argsOrJson: unknown, callId?: string): Promise<string> {
    const tool = this.tools.get(name);
    if (!tool) {
      throw new ConfigurationError(
        `No tool "${name}" is registered with this ArdenToolExecutor. Register it with executor.register("${name}", fn).`,
        { option: 'name' },
      );
    }
    let args = argsOrJson;
    if (typeof argsOrJson === 'string') {
      try {
        args = argsOrJson.trim() === '' ? {} : JSON.parse(argsOrJson);
      } catch {
        args = argsOrJson;
      }
    }
    const ardenName = this.ardenName(name);
    const { approvalMode, onApproval, onDenial } = tool.options;
    const metadata = {
      ...this.options.metadata,
      ...tool.options.metadata,
      framework: 'openai',
      tool: name,
      ...(callId === undefined ? {} : { call_id: callId }),
    };
    const guardOptions: GuardOptions<any> = { approvalMode: approvalMode ?? 'wait', metadata };
    if (onApproval) guardOptions.onApproval = onApproval;
    if (onDenial) guardOptions.onDenial = onDenial;
    // Approve with edit: core runs the tool with the approver's arguments and says so here first.
    let edited: EditedCall | undefined;
    guardOptions.onEdited = (edit) => {
      edited = edit;
    };
    const result = await this.arden().runGuarded(
      ardenName,
      tool.fn,
      undefined,
      [args],
      guardOptions,
    );
    if (approvalMode && approvalMode !== 'wait' && isPendingApproval(result)) {
      return `This call to "${ardenName}" is waiting for human approval (Arden action ${result.actionId}); it has not run yet. Tell the user it will run once approved.`;
    }
    const content = (this.options.serialize ?? defaultSerialize)(result);
    // The model reads what the approver changed before the result (core's note).
    return edited ? withEditedCallNote(content, edited) : content;
  }

  /**
   * Runs every tool call of an assistant turn (concurrently) and returns one tool message per
   * call, in order, ready to append to `messages`. A call that did not run gets a content that
   * says it was blocked or denied and why (unless `throwOnDenial`); an unknown tool gets a
   * content saying so. Accepts `message.tool_calls` or the assistant message itself.
   */
  async toolMessages(
    toolCalls:
      | readonly ToolCallLike[]
      | { tool_calls?: readonly ToolCallLike[] | null }
      | null
      | undefined,
  ): Promise<ToolMessage[]> {
    const calls = Array.isArray(toolCalls)
      ? toolCalls
      : ((toolCalls as { tool_calls?: readonly ToolCallLike[] | null } | null | undefined)
          ?.tool_calls ?? []);
    return Promise.all(
      calls.map(async (call): Promise<ToolMessage> => {
        const { name, input } = nameAndInput(call);
        return {
          role: 'tool',
          tool_call_id: call.id,
          content: await this.contentFor(call, name, input),
        };
      }),
    );
  }

  private async contentFor(call: ToolCallLike, name: string, input: string): Promise<string> {
    if (!this.tools.has(name)) {
      return `There is no tool named "${name}". Use one of: ${this.names.join(', ') || '(none)'}.`;
    }
    try {
      return await this.run(name, input, call.id);
    } catch (error) {
      const denial = denialOf(error, this.ardenName(name));
      if (denial) {
        if (this.options.throwOnDenial) throw error;
        return denialText(this.options, denial);
      }
      if (this.options.toolErrors === 'message') {
        const message = error instanceof Error ? error.message : String(error);
        return `The tool "${name}" failed: ${message}`;
      }
      throw error;
    }
  }
}
