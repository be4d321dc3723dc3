import {
  type Arden,
  createConsoleLogger,
  type Logger,
  loadFromPackageCopy,
  type ModuleWatchGaps,
  patchMethod,
  registerAdapter,
  resolveAdapterOptions,
  watchModules,
} from '@arden/core';
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { ToolMessage } from '@langchain/core/messages';
import { StructuredTool } from '@langchain/core/tools';
import {
  editedToolInput,
  isGuarded,
  isToolCall,
  runGuardedCall,
  sessionOf,
  type ToolMessageConstructor,
  toolCallIdOf,
} from './guard';
import { isLangchainMcpTool, mcpCheckOptions } from './mcp-origin';
import {
  activeOptions,
  adapterState,
  type InstalledOptions,
  type InstallOptions,
  usageActive,
} from './state';
import { record, reserve, StreamUsage, usageOfResult } from './usage';

declare const __ARDEN_MODULE_FORMAT__: 'esm' | 'cjs' | undefined;

/** The adapter's name in core's registry. */
export const adapterName = 'langchain';

/** How a patched tool finds the `ToolMessage` class of its own copy of `@langchain/core`. */
type ToolMessageOf = () => ToolMessageConstructor | Promise<ToolMessageConstructor>;

/**
 * Patches `StructuredTool.prototype.call` of one copy: every tool call (tools made with `tool()`,
 * subclasses, tools made before or after). The patch reads the shared state at call time, so it
 * does nothing while Arden is not installed.
 */
function patchTools(StructuredTool: { prototype: object }, toolMessage: ToolMessageOf): () => void {
  // `call`, not `invoke`: every public way of running a tool reaches the body (`_call`) through
  // `StructuredTool.prototype.call` — `invoke` (and so `stream`, `batch` and agents) calls
  // `this.call`, and the deprecated `call` of `Tool`, `DynamicTool` and `DynamicStructuredTool`
  // end in `super.call` — with the input as it was given, before the schema parses it. Patching
  // `invoke` as well would check a call twice.
  return patchMethod(
    StructuredTool.prototype,
    'call',
    (original) =>
      function (this: { name: string }, input: unknown, config?: unknown, ...rest: unknown[]) {
        const options = activeOptions();
        if (!options || isGuarded(this)) return original.call(this, input, config, ...rest);
        // An @langchain/mcp-adapters tool is checked as mcp.<server>.<tool>; when its name does
        // not say its server, the call is refused rather than checked under its bare name.
        const checked = isLangchainMcpTool(this) ? mcpCheckOptions(options, this) : options;
        if (checked instanceof Error) {
          options.resolveArden().options.logger.error(checked.message, { tool: this.name });
          return Promise.reject(checked);
        }
        return runGuardedCall({
          toolName: this.name,
          args: isToolCall(input) ? input.args : input,
          toolCallId: toolCallIdOf(input, config),
          config,
          run: (edited) => original.call(this, editedToolInput(input, edited), config, ...rest),
          options: checked,
          ToolMessage: toolMessage,
        });
      },
  );
}

/**
 * Patches `BaseChatModel.prototype._generateUncached` and `_streamIterator` of one copy: every
 * chat model call's usage, streaming included.
 */
function patchChatModel(BaseChatModel: { prototype: object }): () => void {
  const chatPrototype = BaseChatModel.prototype as Record<string, unknown>;
  const undo = [
    patchMethod(
      chatPrototype,
      '_generateUncached',
      (original) =>
        async function (
          this: unknown,
          messages: unknown,
          parsedOptions: unknown,
          handledOptions: unknown,
          ...rest: unknown[]
        ) {
          // Budgets: asked before the call (over budget, BudgetExceededError and no call).
          const active = usageActive();
          const session = active ? sessionOf(handledOptions) : undefined;
          const reservationId = active
            ? await reserve(this, messages, parsedOptions, session)
            : null;
          const result = await original.call(
            this,
            messages,
            parsedOptions,
            handledOptions,
            ...rest,
          );
          if (active) {
            // The first prompt's usage settles the reservation; the others count as spent.
            usageOfResult(this, result, parsedOptions).forEach((usage, index) => {
              record(usage, session, index === 0 ? reservationId : null);
            });
          }
          return result;
        },
    ),
    patchMethod(
      chatPrototype,
      '_streamIterator',
      (original) =>
        async function* (
          this: { _streamResponseChunks?: unknown; disableStreaming?: boolean },
          input: unknown,
          options?: unknown,
        ) {
          // Without a streaming implementation LangChain answers a stream with invoke(), whose
          // _generateUncached already records the usage.
          const fallsBackToInvoke =
            this._streamResponseChunks === chatPrototype._streamResponseChunks ||
            this.disableStreaming === true;
          if (!usageActive() || fallsBackToInvoke) {
            yield* original.call(this, input, options);
            return;
          }
          const session = sessionOf(options);
          const reservationId = await reserve(this, input, options, session);
          const usage = new StreamUsage();
          for await (const chunk of original.call(this, input, options)) {
            usage.add(chunk);
            yield chunk;
          }
          // The stream's final usage settles the reservation made before it started.
          const found = usage.result(this, options);
          if (found) record(found, session, reservationId);
        },
    ),
  ];
  return () => {
    for (const restore of undo.reverse()) restore();
  };
}

// Keyed by the class: the ESM and CJS builds of this adapter, and the module watch, may each
// hand over the same copy.
function patchOnce(patched: object): void {
  const state = adapterState();
  const patch = state.copies.get(patched);
  if (!patch || state.patches.has(patched)) return;
  state.patches.set(patched, patch());
}

function addCopyClass(
  patched: unknown,
  patch: (patched: { prototype: object }) => () => void,
): void {
  if (typeof patched !== 'function') return;
  const state = adapterState();
  if (!state.copies.has(patched)) {
    state.copies.set(patched, () => patch(patched as unknown as { prototype: object }));
  }
  if (state.installed) patchOnce(patched);
}

/** Called by the module watch with each evaluated tools or chat model module of any copy. */
function addCopyModule(exports: Record<string, unknown>, location: string) {
  if (/chat_models\.c?js$/.test(location.replace(/[?#].*$/, ''))) {
    addCopyClass(exports.BaseChatModel, patchChatModel);
    return;
  }
  let toolMessage: Promise<ToolMessageConstructor> | undefined;
  const toolMessageOf = () =>
    (toolMessage ??= loadFromPackageCopy(location, '@langchain/core', './messages').then(
      (messages) => messages.ToolMessage as ToolMessageConstructor,
    ));
  addCopyClass(exports.StructuredTool, (StructuredTool) =>
    patchTools(StructuredTool, toolMessageOf),
  );
}

const thisLocation =
  typeof __ARDEN_MODULE_FORMAT__ !== 'undefined' && __ARDEN_MODULE_FORMAT__ === 'cjs'
    ? __filename
    : import.meta.url;

/**
 * Hands this adapter's own copy over and starts watching for every other copy the process loads
 * (see core's `watchModules`). Returns what cannot be watched on this runtime.
 */
function watch(findLoaded: boolean): ModuleWatchGaps {
  addCopyClass(StructuredTool, (patched) =>
    patchTools(patched, () => ToolMessage as unknown as ToolMessageConstructor),
  );
  addCopyClass(BaseChatModel, patchChatModel);
  return watchModules({
    id: 'langchain',
    pattern:
      /[\\/]@langchain[\\/]core[\\/]dist[\\/](tools[\\/]index|language_models[\\/]chat_models)\.c?js$/,
    packageName: '@langchain/core',
    subpaths: ['./tools', './language_models/chat_models'],
    from: thisLocation,
    alsoFrom: ['langchain', '@langchain/langgraph'],
    findLoaded,
    onModule: addCopyModule,
  });
}

function installCopies(): void {
  const state = adapterState();
  state.installed = true;
  const gaps = watch(true);
  for (const patched of state.copies.keys()) patchOnce(patched);
  if (gaps.esm || gaps.commonjs) {
    const missing =
      gaps.esm && gaps.commonjs ? 'ES module or CommonJS' : gaps.esm ? 'ES module' : 'CommonJS';
    loggerOf(state.options).warn(
      `This runtime has no module hooks for ${missing} code: a copy of @langchain/core loaded from now on, other than the one @arden/langchain imports, is not intercepted and its tools would run unchecked. Wrap such tools with protectTools(), or run on Node 20.6 or later.`,
    );
  }
}

function loggerOf(options: InstalledOptions): Logger {
  try {
    return options.resolveArden().options.logger;
  } catch {
    return createConsoleLogger();
  }
}

/**
 * Enforces Arden on every LangChain tool call and records every chat model call's usage, with
 * the given options. `configure()` does this by itself once this package is imported; call
 * `install()` for options (a tool name prefix, throwing on denial, no usage), or with `arden` to
 * use an instance of your own without `configure()`. Tools made before and after are covered.
 * Returns a function that undoes it.
 */
export function install(options: InstallOptions = {}): () => void {
  adapterState().options = resolveAdapterOptions(options);
  installCopies();
  return uninstall;
}

/** Undoes `install()` (and the automatic interception of `configure()`): tools run unchecked. */
export function uninstall(): void {
  const state = adapterState();
  for (const undo of [...state.patches.values()].reverse()) undo();
  state.patches.clear();
  state.installed = false;
}

/**
 * @internal Registers this adapter with core's registry, so that `configure()` installs it.
 * Nothing is patched here unless Arden was already configured (core then installs a late
 * adapter at once).
 */
export function register(): void {
  // Watching from the start, so that a copy loaded between this import and configure() is seen
  // when it is evaluated (nothing is patched before install). The other module format of this
  // adapter may be the one registered with core (the registry keeps the first adapter of a
  // name): if it is installed already, this adds and patches this format's copy too.
  watch(false);
  registerAdapter({
    name: adapterName,
    install(getArden: () => Arden) {
      const state = adapterState();
      if (!state.installed) state.options = resolveAdapterOptions(state.options, getArden);
      installCopies();
      return uninstall;
    },
  });
}
