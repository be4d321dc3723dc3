import type { AdapterApprovalOptions, AdapterOptions, ResolvedAdapterOptions } from '@arden/core';

/** Options shared by `install()`, `guardTools()` and `ardenToolApproval()`. */
export interface ProtectOptions extends AdapterOptions {
  /** Arden names per tool name (the key in your tool set), for tools whose policy name differs. */
  toolNames?: Record<string, string>;
  /**
   * Throw `PolicyDeniedError` from the tool's `execute` instead of returning the denial as the
   * tool's result. The AI SDK turns a thrown error into a `tool-error` part (the model receives its
   * message and the run continues); the error itself is in `steps[].content`. Default false: the
   * denial text is the tool's result.
   */
  throwOnDenial?: boolean;
  /**
   * The end user who answers the SDK's approval requests in your app (an email or id), recorded
   * in Arden as an in-app decision when the policy allows it (`approve_in: [dashboard, app]`).
   * A function gets the tool call. Default: `"app user"`.
   */
  appUser?:
    | string
    | ((toolCall: { toolCallId: string; toolName: string; input: unknown }) => string | undefined);
}

/** Options of `guardTools()`: the shared ones plus per-tool approval modes. */
export interface GuardToolsOptions extends ProtectOptions, AdapterApprovalOptions {}

/** @internal Options after defaults, read by guarded tools at call time. */
export type ResolvedOptions = ResolvedAdapterOptions<GuardToolsOptions>;
