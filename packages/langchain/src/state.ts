import { getArden, resolveAdapterOptions, sharedState } from '@arden/core';
import type { ProtectOptions, ResolvedOptions } from './options';

/** Options of `install()`. */
export interface InstallOptions extends ProtectOptions {
  /** Record every chat model call's token usage. Default true. */
  usage?: boolean;
}

/** @internal The installed options. */
export type InstalledOptions = ResolvedOptions & { usage?: boolean };

interface AdapterState {
  /** Whether tool calls are enforced and usage recorded (after `configure()` or `install()`). */
  installed: boolean;
  options: InstalledOptions;
  /**
   * The classes to patch (`StructuredTool`, `BaseChatModel`) of every copy of `@langchain/core`
   * seen (ESM and CJS builds, other installs), each with the function that patches it.
   */
  copies: Map<object, () => () => void>;
  /** Undo functions of the patched classes. */
  patches: Map<object, () => void>;
}

// On globalThis, so that the ESM and CJS builds of this package (which are both loaded when an
// app mixes module formats) share one switch and one set of options.
const stateKey = Symbol.for('arden.langchain.state');

/** @internal The state shared by every loaded copy of this adapter. */
export function adapterState(): AdapterState {
  return sharedState(stateKey, () => ({
    installed: false,
    options: resolveAdapterOptions({}, () => getArden()),
    copies: new Map(),
    patches: new Map(),
  }));
}

/** @internal The options guarded calls use now, or undefined when Arden is not installed. */
export function activeOptions(): InstalledOptions | undefined {
  const state = adapterState();
  return state.installed ? state.options : undefined;
}

/** @internal Whether usage is recorded by the class patch right now. */
export function usageActive(): boolean {
  const options = activeOptions();
  return options !== undefined && options.usage !== false;
}
