import { type Arden, patchMethod, registerAdapter, resolveAdapterOptions } from '@arden/core';
import { Agent, Runner, RunState, type RunToolApprovalItem } from '@openai/agents';
import { linksToSave, noteAppRejection, restoreLinks, savedLinksKey } from './approvals';
import { patchToolInPlace } from './protect';
import { adapterState, type ProtectOptions, type SdkCopy } from './state';
import { trackModel, trackProvider } from './usage';

/** Options of `install()`. */
export interface InstallOptions extends ProtectOptions {
  /** Record every model call's token usage. Default true. */
  usage?: boolean;
}

/** The adapter's name in core's registry. */
export const adapterName = 'openai-agents';

function usageOn(): boolean {
  const state = adapterState();
  return state.installed && (state.options as InstallOptions).usage !== false;
}

function trackAgentModel(agent: unknown) {
  const model = (agent as { model?: unknown } | undefined)?.model;
  if (model && typeof model === 'object') trackModel(model, { explicit: false });
}

/**
 * Patches this copy's SDK classes: `Agent.prototype.getAllTools` (every agent's tools, each
 * turn, whenever they were made), `Runner.prototype.run` (the models it resolves, for usage), and
 * `RunState` (approve/reject and serialization, to keep Arden's actions linked to interruptions).
 */
function patchSdk(): () => void {
  const undo = [
    patchMethod(
      Agent.prototype,
      'getAllTools',
      (original) =>
        async function (this: unknown, ...args: unknown[]) {
          const tools = (await original.apply(this, args)) as unknown[];
          if (adapterState().installed) {
            for (const tool of tools) patchToolInPlace(tool);
            if (usageOn()) trackAgentModel(this);
          }
          return tools;
        },
    ),
    patchMethod(
      Runner.prototype,
      'run',
      (original) =>
        function (this: Runner, agent: unknown, ...rest: unknown[]) {
          if (usageOn()) {
            trackProvider(this.config.modelProvider, { explicit: false });
            const model = this.config.model;
            if (model && typeof model === 'object') trackModel(model, { explicit: false });
            trackAgentModel(agent);
          }
          return original.call(this, agent, ...rest);
        },
    ),
    patchMethod(
      RunState.prototype,
      'reject',
      (original) =>
        function (
          this: unknown,
          item: RunToolApprovalItem,
          options?: { alwaysReject?: boolean; message?: string },
        ) {
          const result = original.call(this, item, options);
          if (adapterState().installed) noteAppRejection(item, options?.message);
          return result;
        },
    ),
    patchMethod(
      RunState.prototype,
      'toJSON',
      (original) =>
        function (this: any, ...args: unknown[]) {
          const json = original.apply(this, args);
          if (!adapterState().installed) return json;
          const links = linksToSave(this);
          return links ? { ...json, [savedLinksKey]: links } : json;
        },
    ),
    patchMethod(
      RunState,
      'fromString',
      (original) =>
        function (this: unknown, agent: unknown, serialized: string, ...rest: unknown[]) {
          if (adapterState().installed) restoreLinks(serialized);
          return original.call(this, agent, serialized, ...rest);
        },
    ),
    patchMethod(
      RunState,
      'fromStringWithContext',
      (original) =>
        function (this: unknown, agent: unknown, serialized: string, ...rest: unknown[]) {
          if (adapterState().installed) restoreLinks(serialized);
          return original.call(this, agent, serialized, ...rest);
        },
    ),
  ];
  return () => {
    for (const restore of undo.reverse()) restore();
  };
}

const thisCopy: SdkCopy = { install: patchSdk };

function installCopies(): void {
  const state = adapterState();
  state.installed = true;
  for (const copy of state.copies) {
    if (!state.uninstalls.has(copy)) state.uninstalls.set(copy, copy.install());
  }
}

function uninstallCopies(): void {
  const state = adapterState();
  for (const undo of state.uninstalls.values()) undo();
  state.uninstalls.clear();
  state.installed = false;
}

/**
 * Enforces Arden on every function tool of every agent and records every model call's usage,
 * with the given options. `configure()` does this by itself once this package is imported; call
 * `install()` for options (for example `{ approval: 'native' }`), or without `configure()` when
 * you pass `arden`. Tools made before and after are covered. Returns a function that undoes it.
 */
export function install(options: InstallOptions = {}): () => void {
  const state = adapterState();
  state.options = resolveAdapterOptions(options);
  installCopies();
  return uninstall;
}

/** Undoes `install()` (and the automatic interception of `configure()`): tools run unchecked. */
export function uninstall(): void {
  uninstallCopies();
}

/**
 * @internal Registers this copy with core's registry, so that `configure()` installs it. Nothing
 * is patched here unless Arden was already configured (then core installs a late adapter at once).
 */
export function register(): void {
  const state = adapterState();
  if (state.copies.has(thisCopy)) return;
  state.copies.add(thisCopy);
  if (state.installed) {
    // Another copy (the other module format) is installed: patch this copy's SDK classes too.
    state.uninstalls.set(thisCopy, thisCopy.install());
  }
  registerAdapter({
    name: adapterName,
    install(getArden: () => Arden) {
      if (adapterState().options.arden === undefined) {
        adapterState().options.resolveArden = getArden;
      }
      installCopies();
      return uninstallCopies;
    },
  });
}
