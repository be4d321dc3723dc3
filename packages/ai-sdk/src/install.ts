import {
  type Arden,
  ardenToolName,
  denialOf,
  denialText,
  type EditedCall,
  editNotRunnable,
  getSession,
  PolicyDeniedError,
  registerAdapter,
  resolveAdapterOptions,
  sharedState,
} from '@arden/core';
import { registerTelemetry, type Telemetry } from 'ai';
import { checkAndRun, guardedKey } from './guard';
import {
  guardedMetadataKey,
  isAiSdkMcpTool,
  isMcpToolMetadata,
  unnamedMcpToolError,
} from './mcp-origin';
import { refusalText } from './refusal';
import {
  activeOptions,
  adapterState,
  forgetLink,
  type InstallOptions,
  inputKeyOf,
  rememberLink,
} from './state';
import { type LanguageModelCallEnd, recordCallEnd } from './usage';

/** The adapter's name in core's registry. */
export const adapterName = 'ai-sdk';

interface RunningCall {
  tools: Record<string, unknown> | undefined;
  session: string | undefined;
}

// The tool sets of the generations running now (from `onStart`), to tell tools guardTools()
// wrapped (which check their own calls) from the others.
const runningKey = Symbol.for('arden.ai-sdk.running');

function running(): Map<string, RunningCall> {
  return sharedState(runningKey, () => new Map<string, RunningCall>());
}

interface ExecuteToolEvent {
  callId: string;
  toolCallId: string;
  toolCall?: { toolName: string; input?: unknown; toolMetadata?: Record<string, unknown> };
  execute: () => PromiseLike<unknown>;
}

const integrationKey = Symbol.for('arden.ai-sdk.telemetry');

/** Why the automatic route refuses an approval with edit (core's `editNotRunnable`). */
const telemetryNoEdits =
  "the automatic route runs the AI SDK's own tool call, with the arguments as the model wrote them (wrap the tools with guardTools() to run approved edits)";

/**
 * The telemetry integration that the automatic route registers with the `ai` package: its
 * `executeTool` wraps every tool execution of `generateText`, `streamText` and agents (unless a
 * call overrides telemetry), and `onLanguageModelCallEnd` records every model call's usage.
 */
function integration(): Telemetry {
  const global = globalThis as Record<symbol, Telemetry | undefined>;
  const existing = global[integrationKey];
  if (existing) return existing;
  const created: Telemetry = {
    onStart(event: { callId?: string; tools?: Record<string, unknown> }) {
      if (!activeOptions() || typeof event?.callId !== 'string') return;
      running().set(event.callId, { tools: event.tools, session: getSession() });
    },
    onEnd(event: { callId?: string }) {
      if (typeof event?.callId === 'string') running().delete(event.callId);
    },
    onError(event: unknown) {
      const callId = (event as { callId?: unknown } | undefined)?.callId;
      if (typeof callId === 'string') running().delete(callId);
    },
    onLanguageModelCallEnd(event: LanguageModelCallEnd) {
      const options = activeOptions();
      if (!options || options.usage === false) return;
      const session = running().get(event.callId)?.session ?? getSession();
      recordCallEnd(options.resolveArden, event, session);
    },
    async executeTool<T>(event: ExecuteToolEvent): Promise<T> {
      const options = activeOptions();
      const toolName = event.toolCall?.toolName;
      if (!options || toolName === undefined) return (await event.execute()) as T;
      const tool = running().get(event.callId)?.tools?.[toolName] as
        | Record<symbol, unknown>
        | undefined;
      // guardTools() checks its own tools' calls, with their own names and modes.
      if (tool?.[guardedKey] === true) return (await event.execute()) as T;
      // The tool set is hidden (`recordInputs: false`), but the call keeps the tool's metadata:
      // a guardMcpTools() tool checks its own calls as mcp.<server>.<tool>.
      const toolMetadata = tool ? undefined : event.toolCall?.toolMetadata;
      if (toolMetadata?.[guardedMetadataKey] === true) return (await event.execute()) as T;
      // An @ai-sdk/mcp tool must be checked as mcp.<server>.<tool>, and its server is not
      // knowable here: refuse the call rather than check it under its bare name.
      if (isAiSdkMcpTool(tool) || isMcpToolMetadata(toolMetadata)) {
        const error = unnamedMcpToolError(toolName);
        options.resolveArden().options.logger.error(error.message, { tool: toolName });
        throw error;
      }
      const ardenName = ardenToolName(options, toolName);
      // Set when an approver approved with edit (before the tool would run).
      let edited: EditedCall | undefined;
      try {
        return (await checkAndRun({
          toolName,
          input: event.toolCall?.input ?? {},
          toolCallId: event.toolCallId,
          onEdited: (call) => {
            edited = call;
          },
          run: async (runWith: unknown) => {
            if (edited || inputKeyOf(runWith) !== inputKeyOf(event.toolCall?.input ?? {})) {
              // The telemetry hook runs the SDK's own execute, with the model's input: it cannot
              // run arguments an approver edited. Refuse rather than run the unedited call.
              throw edited
                ? editNotRunnable(ardenName, '', edited, telemetryNoEdits)
                : new PolicyDeniedError({
                    toolName: ardenName,
                    actionId: '',
                    reason: 'denied',
                    notes: `the approver required changes, but ${telemetryNoEdits}; the call as it was made was not approved, so nothing ran`,
                  });
            }
            // A guardTools() tool whose tool set this hook could not see (telemetry that hides
            // inputs) must not check this call again.
            rememberLink({
              toolCallId: event.toolCallId,
              inputKey: inputKeyOf(event.toolCall?.input ?? {}),
              ardenToolName: ardenName,
              actionId: '',
              decision: 'allow',
              notes: undefined,
              status: undefined,
              passThrough: true,
            });
            try {
              return await event.execute();
            } finally {
              forgetLink(event.toolCallId);
            }
          },
          options: { ...options, approvalMode: 'wait', approvalModes: undefined },
        })) as T;
      } catch (error) {
        const denial = denialOf(error, ardenName);
        if (!denial || options.throwOnDenial || refusalText(error) !== undefined) throw error;
        // The SDK turns a thrown error into a tool-error result: the model reads this message.
        throw new PolicyDeniedError({
          toolName: ardenName,
          actionId: denial.actionId,
          reason: denial.reason === 'blocked' ? 'blocked' : 'denied',
          notes: denial.notes,
          message: denialText(options, denial),
        });
      }
    },
  } as unknown as Telemetry;
  global[integrationKey] = created;
  return created;
}

function registerIntegration(): void {
  const state = adapterState();
  if (state.registered) return;
  registerTelemetry(integration());
  state.registered = true;
}

function unregisterIntegration(): void {
  const state = adapterState();
  const list = (globalThis as { AI_SDK_TELEMETRY_INTEGRATIONS?: unknown[] })
    .AI_SDK_TELEMETRY_INTEGRATIONS;
  const index = Array.isArray(list) ? list.indexOf(integration()) : -1;
  if (index >= 0) list?.splice(index, 1);
  state.registered = false;
}

/**
 * Enforces Arden on every tool execution of the AI SDK and records every model call's usage, by
 * registering a telemetry integration (`registerTelemetry`). `configure()` does this by itself
 * once this package is imported; call `install()` for options (a name prefix, no usage), or with
 * `arden` to use an instance of your own without `configure()`.
 *
 * It covers calls that do not override telemetry: a call with `telemetry: { isEnabled: false }`
 * or its own `telemetry.integrations` does not see global integrations — use `guardTools()` and
 * `ardenUsageMiddleware()` there. Returns a function that undoes it.
 */
export function install(options: InstallOptions = {}): () => void {
  const state = adapterState();
  state.options = resolveAdapterOptions(options);
  state.installed = true;
  registerIntegration();
  return uninstall;
}

/** Undoes `install()` (and the automatic route of `configure()`). */
export function uninstall(): void {
  adapterState().installed = false;
  unregisterIntegration();
}

/**
 * @internal Registers this adapter with core's registry, so that `configure()` installs it.
 * Nothing is registered with the `ai` package here.
 */
export function register(): void {
  registerAdapter({
    name: adapterName,
    install(getArden: () => Arden) {
      const state = adapterState();
      if (!state.installed) state.options = resolveAdapterOptions(state.options, getArden);
      state.installed = true;
      registerIntegration();
      return uninstall;
    },
  });
}
