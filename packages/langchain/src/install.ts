import { type Arden, patchMethod, registerAdapter, resolveAdapterOptions } from '@arden/core';
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { ToolMessage } from '@langchain/core/messages';
import { StructuredTool } from '@langchain/core/tools';
import {
  isGuarded,
  isToolCall,
  runGuardedCall,
  sessionOf,
  type ToolMessageConstructor,
  toolCallIdOf,
} from './guard';
import { activeOptions, adapterState, type InstallOptions, usageActive } from './state';
import { record, StreamUsage, usageOfResult } from './usage';

declare const __ARDEN_MODULE_FORMAT__: 'esm' | 'cjs' | undefined;

/** The adapter's name in core's registry. */
export const adapterName = 'langchain';

/** The classes Arden patches in one copy (ESM or CJS build) of `@langchain/core`. */
interface LangChainCopy {
  StructuredTool: { prototype: object };
  BaseChatModel: { prototype: object };
  ToolMessage: ToolMessageConstructor;
}

/**
 * Patches one copy: `StructuredTool.prototype.invoke` (every tool call: tools made with `tool()`,
 * subclasses, tools made before or after) and `BaseChatModel.prototype._generateUncached` and
 * `_streamIterator` (every chat model call, streaming included). The patches read the shared
 * state at call time, so they do nothing while Arden is not installed.
 */
function patchCopy(copy: LangChainCopy): () => void {
  const chatPrototype = copy.BaseChatModel.prototype as Record<string, unknown>;
  const undo = [
    patchMethod(
      copy.StructuredTool.prototype,
      'invoke',
      (original) =>
        function (this: { name: string }, input: unknown, config?: unknown) {
          const options = activeOptions();
          if (!options || isGuarded(this)) return original.call(this, input, config);
          return runGuardedCall({
            toolName: this.name,
            args: isToolCall(input) ? input.args : input,
            toolCallId: toolCallIdOf(input, config),
            config,
            run: () => original.call(this, input, config),
            options,
            ToolMessage: copy.ToolMessage,
          });
        },
    ),
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
          const result = await original.call(
            this,
            messages,
            parsedOptions,
            handledOptions,
            ...rest,
          );
          if (usageActive()) {
            const session = sessionOf(handledOptions);
            for (const usage of usageOfResult(this, result, parsedOptions)) record(usage, session);
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
          const usage = new StreamUsage();
          for await (const chunk of original.call(this, input, options)) {
            usage.add(chunk);
            yield chunk;
          }
          const found = usage.result(this, options);
          if (found) record(found, session);
        },
    ),
  ];
  return () => {
    for (const restore of undo.reverse()) restore();
  };
}

function patchOnce(copy: LangChainCopy): void {
  const state = adapterState();
  // Keyed by the class: the ESM and CJS builds of this adapter may both try to patch one copy.
  if (state.patches.has(copy.StructuredTool)) return;
  state.patches.set(copy.StructuredTool, patchCopy(copy));
}

function isCopy(value: Partial<LangChainCopy>): value is LangChainCopy {
  return (
    typeof value.StructuredTool === 'function' &&
    typeof value.BaseChatModel === 'function' &&
    typeof value.ToolMessage === 'function'
  );
}

/**
 * The other build of `@langchain/core`: the ESM build of this adapter loads the CJS one with
 * `require` (synchronously, so it is patched before any tool runs); the CJS build loads the ESM
 * one with `import()` (asynchronously: there is no synchronous way). Either may be absent.
 */
function patchOtherCopy(): void {
  const format = typeof __ARDEN_MODULE_FORMAT__ === 'undefined' ? 'esm' : __ARDEN_MODULE_FORMAT__;
  if (format === 'esm') {
    try {
      const nodeModule = (
        globalThis as {
          process?: { getBuiltinModule?: (id: string) => unknown };
        }
      ).process?.getBuiltinModule?.('node:module') as
        | { createRequire(from: string): (id: string) => any }
        | undefined;
      if (!nodeModule) return;
      const require = nodeModule.createRequire(import.meta.url);
      const copy = {
        StructuredTool: require('@langchain/core/tools').StructuredTool,
        BaseChatModel: require('@langchain/core/language_models/chat_models').BaseChatModel,
        ToolMessage: require('@langchain/core/messages').ToolMessage,
      };
      if (isCopy(copy)) patchOnce(copy);
    } catch {
      // No CJS build reachable from here: nothing of it can be in use.
    }
    return;
  }
  void Promise.all([
    import('@langchain/core/tools'),
    import('@langchain/core/language_models/chat_models'),
    import('@langchain/core/messages'),
  ]).then(
    ([tools, chatModels, messages]) => {
      const copy = {
        StructuredTool: tools.StructuredTool,
        BaseChatModel: chatModels.BaseChatModel,
        ToolMessage: messages.ToolMessage as unknown as ToolMessageConstructor,
      };
      if (isCopy(copy) && adapterState().installed) patchOnce(copy);
    },
    () => {
      // No ESM build reachable from here.
    },
  );
}

const thisCopy: LangChainCopy = {
  StructuredTool,
  BaseChatModel,
  ToolMessage: ToolMessage as unknown as ToolMessageConstructor,
};

function installCopies(): void {
  adapterState().installed = true;
  patchOnce(thisCopy);
  patchOtherCopy();
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
  for (const undo of state.patches.values()) undo();
  state.patches.clear();
  state.installed = false;
}

/**
 * @internal Registers this adapter with core's registry, so that `configure()` installs it.
 * Nothing is patched here unless Arden was already configured (core then installs a late
 * adapter at once).
 */
export function register(): void {
  // The other module format of this adapter may be the one registered with core (the registry
  // keeps the first adapter of a name): if it is installed already, patch this copy too.
  if (adapterState().installed) patchOnce(thisCopy);
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
