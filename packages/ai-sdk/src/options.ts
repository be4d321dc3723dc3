import { type ApprovalMode, type Arden, getArden } from '@arden/core';

/** Why a tool call did not run. */
export interface ToolDenial {
  /** The tool's name as Arden knows it. */
  toolName: string;
  /** The Arden action, when one was logged. */
  actionId: string | undefined;
  /**
   * `blocked` (a policy), `denied` (an approver, or an expired approval), `timeout` (no decision
   * within `maxWaitMs`) or `unavailable` (Arden could not be reached and `onUnavailable` is `'block'`).
   */
  reason: 'blocked' | 'denied' | 'timeout' | 'unavailable';
  /** The policy's reason or the approver's notes. */
  notes: string | undefined;
  /** The error core raised. */
  error: Error;
}

/** Options shared by `install()`, `guardTools()` and `ardenToolApproval()`. */
export interface ProtectOptions {
  /** Prepended to every tool's name in Arden, for example `'support.'`. Default: none. */
  toolNamePrefix?: string;
  /** Arden names per tool name (the key in your tool set), for tools whose policy name differs. */
  toolNames?: Record<string, string>;
  /**
   * Throw `PolicyDeniedError` from the tool's `execute` instead of returning the denial as the
   * tool's result. The AI SDK turns a thrown error into a `tool-error` part (the model receives its
   * message and the run continues); the error itself is in `steps[].content`. Default false: the
   * denial text is the tool's result.
   */
  throwOnDenial?: boolean;
  /** The text the model receives when a call did not run. */
  denialMessage?: (denial: ToolDenial) => string;
  /** Extra metadata sent with every check. */
  metadata?: Record<string, unknown>;
  /** The Arden instance to use. Default: the one `configure()` made, looked up at call time. */
  arden?: Arden | (() => Arden);
}

/** Options of `guardTools()`: the shared ones plus per-tool approval modes. */
export interface GuardToolsOptions extends ProtectOptions {
  /**
   * How a call held for approval is handled: `'wait'` (default) holds the tool until decided;
   * `'async'` and `'webhook'` return at once, telling the model the call awaits approval, and
   * run the tool when it is approved (see `onApproval`/`onDenial`).
   */
  approvalMode?: ApprovalMode;
  /** Approval modes per tool name (overrides `approvalMode`). */
  approvalModes?: Record<string, ApprovalMode>;
  /** Async and webhook modes: called with the tool's result when a held call was approved and ran. */
  onApproval?: (result: unknown, event: unknown) => unknown;
  /** Async and webhook modes: called when a held call was denied, expired, or failed. */
  onDenial?: (error: unknown, event: unknown) => unknown;
}

/** @internal Options after defaults, read by guarded tools at call time. */
export interface ResolvedOptions extends GuardToolsOptions {
  resolveArden: () => Arden;
}

/** @internal Fills in the instance resolver. */
export function resolveOptions<T extends GuardToolsOptions>(
  options: T,
  fallback: () => Arden = getArden,
): T & ResolvedOptions {
  const { arden } = options;
  const resolveArden =
    arden === undefined ? fallback : typeof arden === 'function' ? arden : () => arden;
  return { ...options, resolveArden };
}

/** @internal The name Arden knows a tool by. */
export function ardenToolName(options: ProtectOptions, toolName: string): string {
  return options.toolNames?.[toolName] ?? `${options.toolNamePrefix ?? ''}${toolName}`;
}

/** The text the model receives when a call did not run (unless `denialMessage` is given). */
export function defaultDenialMessage(denial: ToolDenial): string {
  // Notes often end with a full stop of their own.
  const trimmed = denial.notes?.trim().replace(/\.+$/, '');
  const notes = trimmed ? `: ${trimmed}` : '';
  switch (denial.reason) {
    case 'blocked':
      return `Arden blocked this call to "${denial.toolName}" by policy${notes}. The tool did not run.`;
    case 'denied':
      return `An approver denied this call to "${denial.toolName}"${notes}. The tool did not run.`;
    case 'timeout':
      return `This call to "${denial.toolName}" was held for approval and nobody decided in time, so the tool did not run.`;
    case 'unavailable':
      return `Arden could not be reached to check this call to "${denial.toolName}", so the tool did not run.`;
  }
}
