/**
 * Receiving webhooks: verifying a delivery, dropping duplicates, and handing the decision to
 * the call this process holds, to the handlers registered for the tool, or to the tool guarded
 * in webhook mode (rebuilding the call after a restart).
 */
import type {
  AnyFunction,
  ApprovalEvent,
  GuardOptions,
  HandledWebhook,
  HandleWebhookOptions,
  WebhookEvent,
  WebhookHandlers,
} from './call-types';
import { ConfigurationError, PolicyDeniedError, WebhookVerificationError } from './errors';
import type { HeldCall } from './guard';
import { isPlainObject } from './json-safe';
import type { ResolvedOptions } from './options';
import { webhookTools } from './shared-registry';
import { signatureProblem } from './signature';
import type { WebhookPayload } from './wire';

const rememberedEvents = 10_000;

/** Runs a tool for an approved action and reports its outcome (`Arden.runAndReport`). */
type RunAndReport = (
  actionId: string,
  fn: AnyFunction,
  thisArgument: unknown,
  parameters: unknown[],
) => Promise<unknown>;

/**
 * @internal The webhook side of one Arden instance: its handlers by tool name, the calls it
 * holds in webhook mode, and the events it has already seen.
 */
export class WebhookReceiver {
  private readonly handlers = new Map<string, WebhookHandlers>();
  private readonly heldCalls = new Map<string, HeldCall>();
  private readonly seenEvents = new Set<string>();

  constructor(
    private readonly options: ResolvedOptions,
    private readonly runAndReport: RunAndReport,
  ) {}

  /** Keeps a call held in webhook mode until its decision arrives. */
  hold(actionId: string, call: HeldCall): void {
    this.heldCalls.set(actionId, call);
  }

  /** See `Arden.onWebhook`. */
  register(toolName: string, handlers: WebhookHandlers): () => void {
    this.handlers.set(toolName, handlers);
    return () => {
      if (this.handlers.get(toolName) === handlers) this.handlers.delete(toolName);
    };
  }

  /** See `Arden.handleWebhook`. */
  async handle(
    body: string | Uint8Array,
    headers: Headers | Record<string, string | string[] | undefined>,
    options: HandleWebhookOptions,
  ): Promise<HandledWebhook> {
    const signingKey = options.signingKey ?? this.options.signingKey;
    if (!signingKey) {
      throw new ConfigurationError(
        "handleWebhook needs the agent's signing key: pass signingKey, or set it in configure() or ARDEN_SIGNING_KEY. It is shown in the dashboard under Agents.",
        { option: 'signingKey' },
      );
    }
    const header = (name: string): string | undefined => {
      if (typeof (headers as Headers).get === 'function')
        return (headers as Headers).get(name) ?? undefined;
      const record = headers as Record<string, string | string[] | undefined>;
      const found = Object.keys(record).find((key) => key.toLowerCase() === name);
      const value = found === undefined ? undefined : record[found];
      return Array.isArray(value) ? value[0] : value;
    };
    const problem = await signatureProblem(
      body,
      header('x-arden-timestamp'),
      header('x-arden-signature'),
      signingKey,
      options.toleranceSeconds ?? this.options.webhookToleranceSeconds,
      (options.now?.() ?? Date.now()) / 1000,
    );
    if (problem) throw new WebhookVerificationError(`Webhook refused: ${problem}.`);
    const event = parseWebhook(body, header('x-arden-event-id'));
    const key = event.eventId ?? `${event.actionId}:${event.eventType}`;
    if (this.seenEvents.has(key) || this.seenEvents.has(`action:${event.actionId}`)) {
      return { event, handled: false, duplicate: true };
    }
    this.remember(key);
    this.remember(`action:${event.actionId}`);
    const handled = await this.dispatch(event);
    return { event, handled, duplicate: false };
  }

  private remember(key: string): void {
    this.seenEvents.add(key);
    if (this.seenEvents.size > rememberedEvents) {
      const oldest = this.seenEvents.values().next().value;
      if (oldest !== undefined) this.seenEvents.delete(oldest);
    }
  }

  private async dispatch(event: WebhookEvent): Promise<boolean> {
    const approved = event.eventType === 'action_approved';
    const approvalEvent: ApprovalEvent = {
      actionId: event.actionId,
      toolName: event.toolName,
      status: approved ? 'approved' : 'denied',
      message: event.approval.notes,
      webhook: event,
    };
    const held = this.heldCalls.get(event.actionId);
    // Approved with edit: the held call's own parameters are not what was approved; it runs
    // rebuilt from the webhook's context (the edited call) below, or not at all.
    if (held && !(approved && event.edited)) {
      this.heldCalls.delete(event.actionId);
      await settle(held.run, held.options, approvalEvent);
      return true;
    }
    if (held) this.heldCalls.delete(event.actionId);
    const handlers = this.handlers.get(event.toolName);
    if (handlers) {
      await (approved ? handlers.onApproval?.(event) : handlers.onDenial?.(event));
      return true;
    }
    const tool = webhookTools().get(event.toolName);
    if (tool) {
      // The process that made the call is gone (a restart): rebuild the call from the context
      // the server kept. Arguments arrive as JSON, so Dates and the like arrive as strings.
      const parameters = rebuildParameters(event.context, tool.argNames);
      const run = () => this.runAndReport(event.actionId, tool.fn, undefined, parameters);
      await settle(run, tool.options, approvalEvent);
      return true;
    }
    this.options.logger.warn(
      `A webhook decision on "${event.toolName}" (action ${event.actionId}) reached no handler. Register one with onWebhook("${event.toolName}", …) or guard the tool with approvalMode 'webhook' at start-up.`,
    );
    return false;
  }
}

async function settle(
  run: () => Promise<unknown>,
  options: GuardOptions<any>,
  event: ApprovalEvent,
): Promise<void> {
  if (event.status === 'approved') {
    let value: unknown;
    try {
      value = await run();
    } catch (error) {
      await options.onDenial?.(error, event);
      return;
    }
    await options.onApproval?.(value, event);
    return;
  }
  await options.onDenial?.(
    new PolicyDeniedError({
      toolName: event.toolName,
      actionId: event.actionId,
      reason: 'denied',
      notes: event.message,
    }),
    event,
  );
}

function parseWebhook(body: string | Uint8Array, eventId: string | undefined): WebhookEvent {
  let payload: WebhookPayload;
  try {
    payload = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
  } catch {
    throw new WebhookVerificationError('Webhook refused: the body is not JSON.', 400);
  }
  const action = payload?.action;
  if (
    !payload ||
    (payload.event_type !== 'action_approved' && payload.event_type !== 'action_denied') ||
    !action ||
    typeof action.action_id !== 'string' ||
    typeof action.tool_name !== 'string'
  ) {
    throw new WebhookVerificationError(
      'Webhook refused: the body needs event_type (action_approved or action_denied) and action.action_id and action.tool_name.',
      400,
    );
  }
  return {
    eventId,
    eventType: payload.event_type,
    actionId: action.action_id,
    toolName: action.tool_name,
    agentId: action.agent_id,
    environment: action.environment,
    createdAt: action.created_at,
    context: {
      args: Array.isArray(action.args) ? action.args : [],
      kwargs: isPlainObject(action.context) ? action.context : {},
    },
    approval: {
      adminUserId: payload.approval?.admin_user_id ?? undefined,
      notes: payload.approval?.notes ?? undefined,
    },
    ...(editedOf(payload) ? { edited: editedOf(payload) } : {}),
    payload,
  };
}

/** What an approval with edit replaced (the webhook's `edited`), if it is one. */
function editedOf(payload: unknown): WebhookEvent['edited'] {
  const edited = (payload as { edited?: unknown } | null)?.edited;
  if (!isPlainObject(edited)) return undefined;
  const original = edited.original_context;
  return {
    originalKwargs: isPlainObject(original) ? original : {},
    editedBy: typeof edited.edited_by === 'string' ? edited.edited_by : undefined,
  };
}

function rebuildParameters(
  context: { args: unknown[]; kwargs: Record<string, unknown> },
  argNames: readonly string[] | undefined,
): unknown[] {
  if (argNames && argNames.length > 0) {
    return [...argNames.map((name) => context.kwargs[name]), ...context.args];
  }
  if (context.args.length === 0 && Object.keys(context.kwargs).length > 0) return [context.kwargs];
  return context.args;
}
