import {
  type ApprovalMode,
  type Arden,
  approvalModeOf,
  ardenToolName,
  denialOf,
  denialText,
  type EditedCall,
  editedCallNote,
  getSession,
  isPendingApproval,
  pendingApprovalMessage,
  withEditedCallNote,
} from '@arden/core';
import type { ResolvedOptions } from './options';

/** On a tool: Arden already checks its calls (`protectTools`, the middleware), so the class patch leaves it alone. */
export const guardedKey = Symbol.for('arden.langchain.guarded');

/** The parts of a LangChain `ToolCall` that Arden reads. */
export interface ToolCallLike {
  name?: string;
  args?: unknown;
  id?: string;
  type: 'tool_call';
}

/** A `ToolMessage` constructor of one copy of `@langchain/core`. */
export type ToolMessageConstructor = new (fields: {
  content: string;
  tool_call_id: string;
  name?: string;
  status?: 'success' | 'error';
}) => unknown;

const framework = 'langchain';

/** @internal Whether `input` is a LangChain `ToolCall` (what agents pass to `tool.invoke`). */
export function isToolCall(input: unknown): input is ToolCallLike {
  return (
    typeof input === 'object' &&
    input !== null &&
    (input as { type?: unknown }).type === 'tool_call'
  );
}

/** @internal Whether Arden already checks this tool's calls. */
export function isGuarded(tool: unknown): boolean {
  return (
    typeof tool === 'object' &&
    tool !== null &&
    (tool as Record<symbol, unknown>)[guardedKey] === true
  );
}

/** @internal A view of `tool` whose calls the class patch does not check again. */
export function markGuarded<T extends object>(tool: T): T {
  if (isGuarded(tool)) return tool;
  const view = Object.create(tool) as T;
  Object.defineProperty(view, guardedKey, { value: true });
  return view;
}

/** @internal What a policy sees of a tool's input: an object as is, a string as `{ input }`. */
export function policyInput(args: unknown): unknown {
  return typeof args === 'string' ? { input: args } : args;
}

/** @internal The session of a LangChain call: Arden's own, else `arden_session_id` in the run's metadata or configurable. */
export function sessionOf(config: unknown): string | undefined {
  const current = getSession();
  if (current !== undefined) return current;
  const record = config as
    | { metadata?: Record<string, unknown>; configurable?: Record<string, unknown> }
    | undefined;
  const fromConfig = record?.metadata?.arden_session_id ?? record?.configurable?.arden_session_id;
  return typeof fromConfig === 'string' && fromConfig.length > 0 ? fromConfig : undefined;
}

/** @internal Everything one guarded call needs. */
export interface GuardedCall {
  /** The LangChain tool's own name. */
  toolName: string;
  /** The tool's input (the ToolCall's `args`, or what was passed to `invoke` or `call`). */
  args: unknown;
  toolCallId: string | undefined;
  /** The run's config, for the session fallback. */
  config: unknown;
  /** Runs the tool body: with the call's input, or with the arguments an approver edited. */
  run: (edited?: EditedCall) => Promise<unknown>;
  options: ResolvedOptions;
  /** The `ToolMessage` class of the tool's copy of `@langchain/core`. */
  ToolMessage: () => ToolMessageConstructor | Promise<ToolMessageConstructor>;
}

/**
 * @internal Checks one call with Arden and runs it, waits for approval, or answers with a denial
 * the model can read: a `ToolMessage` with `status: 'error'` when the call came with a tool call
 * id (agents), else the text. With `throwOnDenial` the error is thrown instead.
 */
export async function runGuardedCall(call: GuardedCall): Promise<unknown> {
  const { options, toolName, toolCallId } = call;
  const arden: Arden = options.resolveArden();
  const ardenName = ardenToolName(options, toolName);
  const mode: ApprovalMode = approvalModeOf(options, toolName);
  const session = sessionOf(call.config);
  const metadata: Record<string, unknown> = {
    ...options.metadata,
    framework,
    tool: toolName,
    ...(toolCallId === undefined ? {} : { tool_call_id: toolCallId }),
    ...(session === undefined ? {} : { session_id: session }),
  };
  let value: unknown;
  // Approve with edit: core runs the call with the approver's arguments and says so here first.
  let edited: EditedCall | undefined;
  try {
    value = await arden.runGuarded(
      ardenName,
      () => call.run(edited),
      undefined,
      [policyInput(call.args)],
      {
        approvalMode: mode,
        metadata,
        ...(options.onApproval
          ? {
              onApproval: (result: unknown, event: unknown) =>
                options.onApproval?.(toolResultOf(result), event),
            }
          : {}),
        ...(options.onDenial ? { onDenial: options.onDenial } : {}),
        onEdited: (edit: EditedCall) => {
          edited = edit;
        },
      },
    );
  } catch (error) {
    const denial = denialOf(error, ardenName);
    if (!denial || options.throwOnDenial) throw error;
    return await answer(call, denialText(options, denial), 'error');
  }
  if (mode !== 'wait' && isPendingApproval(value)) {
    return await answer(
      call,
      pendingApprovalMessage({ toolName: ardenName, actionId: value.actionId }),
      'success',
    );
  }
  return edited ? withEditNote(value, edited) : value;
}

/**
 * @internal A tool's input with an approver's edit applied (the same shape: a `ToolCall` keeps
 * its id, a string input takes the edited `input`); the input itself when there is no edit.
 */
export function editedToolInput(input: unknown, edited: EditedCall | undefined): unknown {
  if (!edited) return input;
  if (isToolCall(input)) return { ...input, args: editedArgs(input.args, edited) };
  return editedArgs(input, edited);
}

function editedArgs(args: unknown, edited: EditedCall): unknown {
  const { kwargs } = edited;
  // A string input is checked as `{ input }` (policyInput): its edit is the edited `input`.
  if (typeof args === 'string' && typeof kwargs.input === 'string') return kwargs.input;
  return kwargs;
}

/**
 * @internal Approve with edit: the tool's result (a `ToolMessage` of any copy of
 * `@langchain/core`, or its text) starts with core's note on what the approver changed, so the
 * model does not take it for the call it made.
 */
export function withEditNote(output: unknown, edited: EditedCall): unknown {
  if (typeof output === 'string') return withEditedCallNote(output, edited);
  const message = output as { tool_call_id?: unknown; content?: unknown } | null;
  if (typeof message !== 'object' || message === null || typeof message.tool_call_id !== 'string') {
    return output;
  }
  if (typeof message.content === 'string') {
    message.content = withEditedCallNote(message.content, edited);
  } else if (Array.isArray(message.content)) {
    message.content = [{ type: 'text', text: editedCallNote(edited) }, ...message.content];
  }
  return output;
}

/**
 * @internal What a tool call produced, as `onApproval` receives it: a tool invoked with an
 * agent's tool call answers with a `ToolMessage`; its `content` is the tool's result (the text a
 * tool returned, or LangChain's serialization of anything else).
 */
export function toolResultOf(result: unknown): unknown {
  if (typeof result !== 'object' || result === null) return result;
  const message = result as { type?: unknown; tool_call_id?: unknown; content?: unknown };
  const isToolMessage =
    typeof message.tool_call_id === 'string' &&
    'content' in message &&
    (message.type === 'tool' || (result as { _getType?: () => unknown })._getType?.() === 'tool');
  return isToolMessage ? message.content : result;
}

async function answer(
  call: GuardedCall,
  text: string,
  status: 'success' | 'error',
): Promise<unknown> {
  if (call.toolCallId === undefined) return text;
  const ToolMessage = await call.ToolMessage();
  return new ToolMessage({
    content: text,
    tool_call_id: call.toolCallId,
    name: call.toolName,
    status,
  });
}

/** @internal The tool call id LangChain passes with a call, from the input or the config. */
export function toolCallIdOf(input: unknown, config: unknown): string | undefined {
  if (isToolCall(input) && typeof input.id === 'string') return input.id;
  const record = config as { toolCall?: { id?: unknown }; toolCallId?: unknown } | undefined;
  const fromConfig = record?.toolCall?.id ?? record?.toolCallId;
  return typeof fromConfig === 'string' ? fromConfig : undefined;
}
