import type { AdapterApprovalOptions, AdapterOptions, ResolvedAdapterOptions } from '@arden/core';

/** Options shared by `install()`, `protectTools()` and `ardenMiddleware()`. */
export interface ProtectOptions extends AdapterOptions {
  /** Arden names per LangChain tool name, for tools whose policy name differs from the tool's. */
  toolNames?: Record<string, string>;
  /**
   * Throw `PolicyDeniedError` instead of returning the denial to the model as the tool's result.
   * Default false: the model receives a `ToolMessage` with `status: 'error'` that says the call was
   * blocked or denied and why, and the run continues.
   */
  throwOnDenial?: boolean;
}

/** Options of `protectTools()`: the shared ones plus per-tool approval modes. */
export interface ProtectToolsOptions extends ProtectOptions, AdapterApprovalOptions {
  /** Approval modes per LangChain tool name (overrides `approvalMode`). */
  approvalModes?: AdapterApprovalOptions['approvalModes'];
}

/** @internal Options after defaults, read by guarded tools at call time. */
export type ResolvedOptions = ResolvedAdapterOptions<ProtectToolsOptions>;
