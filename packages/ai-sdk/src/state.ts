import type { Decision, EditedCall } from '@arden/core';
import { getArden, resolveAdapterOptions, sharedState } from '@arden/core';
import type { ProtectOptions, ResolvedOptions } from './options';

/** Options of `install()`. */
export interface InstallOptions extends ProtectOptions {
  /** Record every language model call's token usage. Default true. */
  usage?: boolean;
}

/** @internal The installed options. */
export type InstalledOptions = ResolvedOptions & { usage?: boolean };

/**
 * A tool call Arden has already decided on (in `ardenToolApproval`, or in the telemetry hook),
 * so that the code that runs the tool does not check it again.
 */
export interface ActionLink {
  toolCallId: string;
  /** The call's input as JSON: a link is used only for the same call (ids can repeat across runs). */
  inputKey: string;
  /** The name Arden knows the tool by. */
  ardenToolName: string;
  actionId: string;
  decision: Decision;
  /** The policy's reason (block) or the approver's notes (once decided). */
  notes: string | undefined;
  /**
   * For held calls: `approved`/`denied` once decided in Arden; undefined while Arden still
   * holds it (the tool then waits for Arden's decision when it runs).
   */
  status: 'approved' | 'denied' | undefined;
  /** Approved with edit in Arden: the approver's call, run instead of the model's. */
  edited?: EditedCall;
  /** Already checked and reported by the automatic route: the tool's own wrapper just runs it. */
  passThrough?: boolean;
  /** The approved action's single run is claimed in Arden (`ardenToolApproval` did). */
  claimed?: boolean;
}

interface AdapterState {
  installed: boolean;
  options: InstalledOptions;
  /** Whether Arden's telemetry integration is registered with the `ai` package. */
  registered: boolean;
  links: Map<string, ActionLink>;
  /** Calls `ardenToolApproval` held in this process: action id → `toolCallId|input`. */
  held?: Map<string, string>;
  /** Model calls whose usage was recorded through the end event (`callId|responseId`). */
  recordedCalls: Set<string>;
}

// On globalThis, so that the ESM and CJS builds of this package share one switch, one set of
// options and one record of decided calls.
const stateKey = Symbol.for('arden.ai-sdk.state');
const maxRemembered = 10_000;

/** @internal The state shared by every loaded copy of this adapter. */
export function adapterState(): AdapterState {
  return sharedState(stateKey, () => ({
    installed: false,
    options: resolveAdapterOptions({}, () => getArden()),
    registered: false,
    links: new Map(),
    held: new Map(),
    recordedCalls: new Set(),
  }));
}

/** @internal The options of the automatic route now, or undefined when it is not installed. */
export function activeOptions(): InstalledOptions | undefined {
  const state = adapterState();
  return state.installed ? state.options : undefined;
}

/** @internal Remembers a decided call (the oldest are forgotten past a bound). */
export function rememberLink(link: ActionLink): void {
  const { links } = adapterState();
  links.delete(link.toolCallId);
  links.set(link.toolCallId, link);
  if (links.size > maxRemembered) {
    const oldest = links.keys().next().value;
    if (oldest !== undefined) links.delete(oldest);
  }
}

/** @internal The input key of a call. */
export function inputKeyOf(input: unknown): string {
  try {
    return JSON.stringify(input) ?? '';
  } catch {
    return '';
  }
}

/** @internal The decided call with this id and input, if any. */
export function findLink(toolCallId: string | undefined, input: unknown): ActionLink | undefined {
  if (toolCallId === undefined) return undefined;
  const link = adapterState().links.get(toolCallId);
  return link && link.inputKey === inputKeyOf(input) ? link : undefined;
}

/** @internal Forgets a call once its tool ran (or was refused). */
export function forgetLink(toolCallId: string): void {
  adapterState().links.delete(toolCallId);
}

/** @internal Remembers that this process held this call under this action (bounded). */
export function rememberHeld(actionId: string, toolCallId: string, input: unknown): void {
  const state = adapterState();
  // A copy of an older version may have made the shared state without this map.
  state.held ??= new Map();
  const { held } = state;
  held.set(actionId, `${toolCallId}|${inputKeyOf(input)}`);
  if (held.size > maxRemembered) {
    const oldest = held.keys().next().value;
    if (oldest !== undefined) held.delete(oldest);
  }
}

/** @internal Whether this process held exactly this call under this action. */
export function wasHeldHere(actionId: string, toolCallId: string, input: unknown): boolean {
  return adapterState().held?.get(actionId) === `${toolCallId}|${inputKeyOf(input)}`;
}

/** @internal Records a usage key once; false when it was already recorded. */
export function firstTime(key: string): boolean {
  const { recordedCalls } = adapterState();
  if (recordedCalls.has(key)) return false;
  recordedCalls.add(key);
  if (recordedCalls.size > maxRemembered) {
    const oldest = recordedCalls.values().next().value;
    if (oldest !== undefined) recordedCalls.delete(oldest);
  }
  return true;
}
