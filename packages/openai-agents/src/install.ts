import {
  type Arden,
  createConsoleLogger,
  type ModuleWatchGaps,
  patchMethod,
  registerAdapter,
  resolveAdapterOptions,
  watchModules,
} from '@arden/core';
import { Agent, Runner, RunState, type RunToolApprovalItem } from '@openai/agents';
import { linksToSave, noteAppRejection, restoreLinks, savedLinksKey } from './approvals';
import { warnUncheckedHostedMcp } from './hosted-mcp';
import { lookUpMcpTools } from './mcp';
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

declare const __ARDEN_MODULE_FORMAT__: 'esm' | 'cjs' | undefined;

/** The SDK classes Arden patches in one copy of `@openai/agents`. */
interface SdkClasses {
  Agent: typeof Agent;
  Runner: typeof Runner;
  RunState: typeof RunState;
}

/**
 * Patches one copy's SDK classes: `Agent.prototype.getAllTools` (every agent's tools, each
 * turn, whenever they were made), `Agent.prototype.getMcpTools` (the tools of its MCP servers,
 * checked as `mcp.<server>.<tool>` at the server's `callTool`), `Runner.prototype.run` (the models it resolves, for usage), and
 * `RunState` (approve/reject and serialization, to keep Arden's actions linked to interruptions).
 */
function patchSdk({ Agent, Runner, RunState }: SdkClasses): () => void {
  const undo = [
    patchMethod(
      Agent.prototype,
      'getAllTools',
      (original) =>
        async function (this: unknown, ...args: unknown[]) {
          const tools = (await original.apply(this, args)) as unknown[];
          if (adapterState().installed) {
            for (const tool of tools) {
              patchToolInPlace(tool);
              warnUncheckedHostedMcp(tool, (message) => adapterLogger().warn(message));
            }
            if (usageOn()) trackAgentModel(this);
          }
          return tools;
        },
    ),
    patchMethod(
      Agent.prototype,
      'getMcpTools',
      (original) =>
        function (this: any, ...args: unknown[]) {
          const lookUp = () => original.apply(this, args) as Promise<unknown[]>;
          return adapterState().installed ? lookUpMcpTools(this, lookUp) : lookUp();
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

function isSdk(value: Partial<SdkClasses>): value is SdkClasses {
  return (
    typeof value.Agent === 'function' &&
    typeof value.Runner === 'function' &&
    typeof value.RunState === 'function'
  );
}

/** Adds a copy of the SDK (patched at once while installed). Returns false if it was known. */
function addCopy(sdk: Partial<SdkClasses>): boolean {
  if (!isSdk(sdk)) return false;
  const state = adapterState();
  for (const copy of state.copies) if (copy.key === sdk.Agent) return false;
  const copy: SdkCopy = { key: sdk.Agent, install: () => patchSdk(sdk) };
  state.copies.add(copy);
  if (state.installed) state.uninstalls.set(copy, copy.install());
  return true;
}

const thisLocation =
  typeof __ARDEN_MODULE_FORMAT__ !== 'undefined' && __ARDEN_MODULE_FORMAT__ === 'cjs'
    ? __filename
    : import.meta.url;

/**
 * Watches for every other copy of the SDK the process loads (ESM or CJS build, other installs,
 * before or after), each handed over as its module is evaluated (core's `watchModules`).
 */
function watch(findLoaded: boolean): ModuleWatchGaps {
  return watchModules({
    id: 'openai-agents',
    pattern: /[\\/]@openai[\\/]agents-core[\\/]dist[\\/]index\.m?js$/,
    packageName: '@openai/agents',
    subpaths: ['.'],
    from: thisLocation,
    findLoaded,
    onModule: (exports) => addCopy(exports as Partial<SdkClasses>),
  });
}

/** Arden's logger, or the console when Arden is not configured yet. */
function adapterLogger() {
  try {
    return adapterState().options.resolveArden().options.logger;
  } catch {
    return createConsoleLogger();
  }
}

function installCopies(): void {
  const state = adapterState();
  state.installed = true;
  const gaps = watch(true);
  for (const copy of state.copies) {
    if (!state.uninstalls.has(copy)) state.uninstalls.set(copy, copy.install());
  }
  if (gaps.esm || gaps.commonjs) {
    adapterLogger().warn(
      'This runtime has no module hooks: a copy of @openai/agents loaded from now on, other than the one @arden/openai-agents imports, is not intercepted and its tools would run unchecked. Wrap such tools with protectFunctionTools(), or run on Node 20.6 or later.',
    );
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
  // This build's SDK copy (patched at once when the other module format of this adapter is
  // installed already), and a watch from the start for every other copy.
  if (!addCopy({ Agent, Runner, RunState })) return;
  watch(false);
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
