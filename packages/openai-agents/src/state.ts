import {
  type AdapterOptions,
  type Decision,
  type EditedCall,
  getArden,
  ardenToolName as kitToolName,
  type ResolvedAdapterOptions,
  sharedState,
} from '@arden/core';

/** How a call that a policy holds for approval is handled. */
export type ApprovalRoute = 'wait' | 'native';

/** Options shared by `install()`, `protectFunctionTools()` and `guardAgentTools()`. */
export interface ProtectOptions extends AdapterOptions {
  /**
   * What happens to a call a policy holds for approval: `'wait'` (default) holds the tool until an
   * approver decides in Arden; `'native'` maps the hold onto the SDK's `needsApproval`, so the run
   * stops with `interruptions` that Arden's decision (`resolveInterruptions`) or your own
   * `state.approve()`/`state.reject()` resolves.
   */
  approval?: ApprovalRoute;
  /** Arden names per SDK tool name, for tools whose policy name differs from the tool's. */
  toolNames?: Record<string, string>;
  /**
   * Throw `PolicyDeniedError` (a fatal `ToolCallError` in the SDK) instead of returning the denial
   * to the model as the tool's result. Default false: the model is told, and the run continues.
   */
  throwOnDenial?: boolean;
  /**
   * The end user who approves interruptions in your app (`state.approve`), recorded in Arden as
   * an in-app decision when the policy allows it (`approve_in: [dashboard, app]`). Default
   * `"app user"`.
   */
  appUser?: string;
}

/** The options a guarded tool reads at call time. */
export type ResolvedProtectOptions = ResolvedAdapterOptions<ProtectOptions>;

/** A held call's Arden action, linked to the SDK's tool call by its call id. */
export interface ActionLink {
  callId: string;
  /** The SDK tool's name. */
  toolName: string;
  /** The name Arden knows it by. */
  ardenToolName: string;
  actionId: string;
  decision: Decision;
  /** The policy's reason (block) or the approver's notes (once decided). */
  notes: string | undefined;
  /** Arden's decision on a held call, once known. */
  status: 'approved' | 'denied' | undefined;
  /** Approved with edit in Arden: the approver's input, run instead of the model's. */
  edited?: EditedCall;
  /**
   * The exact input this process checked (its argument bytes, `inputKeyOf`): a call with other
   * input is not this link's call. Absent for links restored from a saved state, whose call
   * Arden's receipt must prove.
   */
  inputKey?: string;
  /**
   * The call's input changed after the SDK's approval was asked for (a saved state edited, say):
   * the app's approval in the run was given for another input, so only Arden's approvers decide.
   */
  appApprovalVoid?: boolean;
}

/**
 * One loaded copy of the SDK (its ESM and CJS builds, and other installs, each have their own
 * classes), keyed by its `Agent` class.
 */
export interface SdkCopy {
  key: object;
  install(): () => void;
}

interface AdapterState {
  installed: boolean;
  options: ResolvedProtectOptions;
  links: Map<string, ActionLink>;
  copies: Set<SdkCopy>;
  uninstalls: Map<SdkCopy, () => void>;
}

const maxLinks = 10_000;

// On globalThis under a registered symbol, so that the ESM and CJS builds of this adapter (which
// patch the ESM and CJS builds of the SDK) share one set of options and one table of held calls:
// a run state saved through one copy resumes through the other.
const stateKey = Symbol.for('arden.openai-agents.state');

/** @internal The adapter's shared state. */
export function adapterState(): AdapterState {
  return sharedState<AdapterState>(stateKey, () => ({
    installed: false,
    options: { resolveArden: getArden },
    links: new Map(),
    copies: new Set(),
    uninstalls: new Map(),
  }));
}

/**
 * @internal The name a tool has in Arden, by the adapters' one rule: its `toolNames` entry (or
 * `ardenName`) exactly as written, else `toolNamePrefix` followed by the tool's name.
 */
export function ardenToolName(options: ProtectOptions, toolName: string): string {
  return kitToolName(options, toolName);
}

/** @internal Remembers a held call's action. The oldest links go first past `maxLinks`. */
export function rememberLink(link: ActionLink): void {
  const { links } = adapterState();
  links.delete(link.callId);
  links.set(link.callId, link);
  if (links.size > maxLinks) {
    const oldest = links.keys().next().value;
    if (oldest !== undefined) links.delete(oldest);
  }
}

/** @internal The link of a tool call, if its tool name matches. */
export function findLink(callId: string | undefined, toolName: string): ActionLink | undefined {
  if (callId === undefined) return undefined;
  const link = adapterState().links.get(callId);
  return link && link.toolName === toolName ? link : undefined;
}

/** @internal Forgets a link. */
export function forgetLink(callId: string): void {
  adapterState().links.delete(callId);
}
