import {
  approvalModeOf,
  ardenToolName,
  ConfigurationError,
  denialOf,
  denialText,
  type EditedCall,
  editedCallNote,
  isPendingApproval,
  mcpToolName,
  pendingApprovalMessage,
  resolveAdapterOptions,
  withEditedCallNote,
} from '@arden/core';
import type { ToolExecutionOptions, ToolSet } from 'ai';
import { checkAndRun, guardedKey } from './guard';
import { guardedMetadataKey, isAiSdkMcpTool } from './mcp-origin';
import type { GuardToolsOptions } from './options';
import { refusalText } from './refusal';

type AnyFunction = (...args: any[]) => any;

/** A tool result as the model reads it (the AI SDK's `ToolResultOutput`, the parts used here). */
type ModelOutput = { type: string; value?: unknown };

/** The AI SDK's own conversion when a tool has no `toModelOutput`: text, else JSON. */
function defaultModelOutput(output: unknown): ModelOutput {
  if (typeof output === 'string') return { type: 'text', value: output };
  const text = output === undefined ? undefined : JSON.stringify(output);
  return { type: 'json', value: text === undefined ? null : (JSON.parse(text) as unknown) };
}

/** Approve with edit: the model's copy of the result starts with core's note on the edit. */
function withEditNote(output: ModelOutput, edited: EditedCall): ModelOutput {
  switch (output.type) {
    case 'text':
    case 'json':
      return { type: 'text', value: withEditedCallNote(output.value, edited) };
    case 'content':
      return {
        type: 'content',
        value: [{ type: 'text', text: editedCallNote(edited) }, ...(output.value as unknown[])],
      };
    default:
      return output;
  }
}

function isAsyncGeneratorFunction(fn: unknown): boolean {
  return (
    typeof fn === 'function' &&
    (fn as { constructor?: { name?: string } }).constructor?.name === 'AsyncGeneratorFunction'
  );
}

/**
 * Returns a copy of an AI SDK tool set whose tools check every call with Arden before their
 * `execute` runs. Allowed calls run; blocked or denied calls do not, and the model receives a
 * tool result that says so and why (or, with `throwOnDenial`, a `tool-error`); calls that need
 * approval wait for the decision (`approvalMode: 'wait'`, the default). Tools keep their
 * descriptions, schemas, `needsApproval` and `toModelOutput`. The automatic route of
 * `configure()` leaves these tools to this wrapper, so each call is checked once.
 *
 * ```ts
 * const result = await generateText({ model, tools: guardTools({ search, refund }), prompt });
 * ```
 */
export function guardTools<TOOLS extends ToolSet>(
  tools: TOOLS,
  options: GuardToolsOptions = {},
): TOOLS {
  if (!tools || typeof tools !== 'object' || Array.isArray(tools)) {
    throw new ConfigurationError('guardTools(tools) needs an AI SDK tool set: { name: tool(…) }.', {
      option: 'tools',
    });
  }
  const resolved = resolveAdapterOptions(options);
  const guarded: Record<string, unknown> = {};
  for (const [toolName, tool] of Object.entries(tools)) {
    const execute = (tool as { execute?: AnyFunction }).execute;
    if (typeof execute !== 'function' || (tool as Record<symbol, unknown>)[guardedKey]) {
      // Tools without execute run on the client (or the provider); there is nothing to hold here.
      guarded[toolName] = tool;
      continue;
    }
    const mode = approvalModeOf(resolved, toolName);
    const ardenName = ardenToolName(resolved, toolName);
    const denied = new Set<string>();
    // Calls that ran with arguments an approver edited: their result tells the model so.
    const edits = new Map<string, EditedCall>();
    const guard = async (
      input: unknown,
      executionOptions: ToolExecutionOptions<unknown>,
      run: (input: unknown) => Promise<unknown>,
    ) => {
      try {
        const value = await checkAndRun({
          toolName,
          input,
          toolCallId: executionOptions?.toolCallId,
          run,
          options: resolved,
          onEdited: (edited) => {
            if (executionOptions?.toolCallId) edits.set(executionOptions.toolCallId, edited);
          },
        });
        if (mode !== 'wait' && isPendingApproval(value)) {
          denied.add(executionOptions?.toolCallId);
          return { answer: pendingApprovalMessage(value) };
        }
        return { value };
      } catch (error) {
        const denial = denialOf(error, ardenName);
        if (!denial || resolved.throwOnDenial) throw error;
        denied.add(executionOptions?.toolCallId);
        return { answer: refusalText(error) ?? denialText(resolved, denial) };
      }
    };
    const guardedExecute = isAsyncGeneratorFunction(execute)
      ? async function* (input: unknown, executionOptions: ToolExecutionOptions<unknown>) {
          let iterator: AsyncIterator<unknown> | undefined;
          let first: IteratorResult<unknown> | undefined;
          // The check happens before the first output; the generator is started inside it so the
          // outcome report covers the tool's first step at least.
          const outcome = await guard(input, executionOptions, async (runWith) => {
            iterator = (execute.call(tool, runWith, executionOptions) as AsyncIterable<unknown>)[
              Symbol.asyncIterator
            ]();
            first = await iterator.next();
            return first;
          });
          if ('answer' in outcome) {
            yield outcome.answer;
            return;
          }
          if (!iterator || !first) return;
          let step = first;
          while (!step.done) {
            yield step.value;
            step = await iterator.next();
          }
        }
      : async (input: unknown, executionOptions: ToolExecutionOptions<unknown>) => {
          // runWith: the call's input, or the arguments an approver edited before approving.
          const outcome = await guard(input, executionOptions, async (runWith) =>
            execute.call(tool, runWith, executionOptions),
          );
          return 'answer' in outcome ? outcome.answer : outcome.value;
        };
    const toModelOutput = (tool as { toModelOutput?: AnyFunction }).toModelOutput;
    const metadata = (tool as { metadata?: unknown }).metadata;
    guarded[toolName] = {
      ...tool,
      // An MCP tool's calls carry this to the automatic route also when it cannot see the tool set.
      ...(isAiSdkMcpTool(tool)
        ? { metadata: { ...(metadata as object), [guardedMetadataKey]: true } }
        : {}),
      execute: guardedExecute,
      // A denial's text is not the tool's own output type: give it to the model as text. A
      // result of arguments an approver edited reaches the model with a note saying so.
      async toModelOutput(this: unknown, modelOptions: { toolCallId: string; output: unknown }) {
        const edited = edits.get(modelOptions.toolCallId);
        edits.delete(modelOptions.toolCallId);
        if (denied.has(modelOptions.toolCallId) && typeof modelOptions.output === 'string') {
          denied.delete(modelOptions.toolCallId);
          return { type: 'text', value: modelOptions.output };
        }
        const output: ModelOutput =
          typeof toModelOutput === 'function'
            ? await toModelOutput.call(this, modelOptions)
            : defaultModelOutput(modelOptions.output);
        return edited ? withEditNote(output, edited) : output;
      },
      [guardedKey]: true,
    };
  }
  return guarded as TOOLS;
}

/**
 * `guardTools` for the tools of an MCP server (from `@ai-sdk/mcp`'s `client.tools()`): each is
 * checked as `mcp.<server>.<tool>` — the name the Arden MCP gateway and every adapter give an MCP
 * tool, so one policy for `mcp.github.*` governs them wherever they are called — and the check
 * carries `{mcp: {server}}` in its metadata. `server` is the name you give the server (letters,
 * digits, `_` and `-`); a bad one throws `ConfigurationError`.
 *
 * ```ts
 * const tools = guardMcpTools(await github.tools(), { server: 'github' });
 * ```
 */
export function guardMcpTools(
  tools: Record<string, object>,
  options: GuardToolsOptions & { server: string },
): ToolSet {
  const { server, ...rest } = options;
  // Typed loosely: @ai-sdk/mcp may be built against another provider-utils than the app's `ai`,
  // and its tool types then differ from `ToolSet` in ways that do not matter at run time.
  return guardTools(tools as unknown as ToolSet, {
    ...rest,
    toolNamePrefix: mcpToolName(server, ''),
    metadata: { ...rest.metadata, mcp: { server } },
  });
}
