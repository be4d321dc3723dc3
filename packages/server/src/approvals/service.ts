import { ConflictError, NotFoundError, ValidationError } from '../errors';
import type { LiveEvents } from '../events/service';
import type { Logger } from '../logger';
import type { PolicyService } from '../policies/service';
import { decisionReceiptInput, type ReceiptService, redactionClaims } from '../receipts/service';
import type { SensitiveArguments } from '../sensitive/service';
import type { ActionRecord, Store } from '../store';
import type { Repositories } from '../store/repositories';
import type { Telemetry } from '../telemetry/service';
import type { WebhookService } from '../webhooks/service';
import type { ApprovalHub, DecisionNotice } from './hub';
import { describeEdit } from './state';
import { castVote, type DecisionInput } from './votes';

/** The notification channel on which decisions reach every replica's approval hub. */
export const decisionChannel = 'arden_decisions';

/** Wakes the hub's waiters for decisions announced on `decisionChannel` (by any replica). */
export function wakeFromNotification(hub: ApprovalHub, payload: string): void {
  try {
    const notice = JSON.parse(payload) as {
      actionId?: unknown;
      status?: unknown;
      message?: unknown;
      edited?: unknown;
    };
    if (
      typeof notice.actionId === 'string' &&
      (notice.status === 'approved' || notice.status === 'denied')
    ) {
      hub.wake(notice.actionId, {
        status: notice.status,
        message: typeof notice.message === 'string' ? notice.message : null,
        ...(notice.edited === true ? { edited: true } : {}),
      });
    }
  } catch {
    // Not ours: ignore.
  }
}

export type { DecisionInput } from './votes';

/** Options of `statusOf`: what the client can take. */
export interface StatusOptions {
  /**
   * The client runs edited arguments (`@arden/core` says so with `X-Arden-Capabilities: edits`):
   * an approval with edit reads as approved, with the edited call. Others (ardenpy) read it as
   * denied, with a message saying the approver required changes.
   */
  edits?: boolean;
}

/** What `GET /status/{id}` reports for an action: only pending, approved or denied. */
export function statusOf(
  action: ActionRecord,
  options: StatusOptions = {},
): DecisionNotice | { status: 'pending'; message: string | null } {
  switch (action.status) {
    case 'pending':
      return { status: 'pending', message: null };
    case 'approved': {
      const edit = action.approval?.edits.at(-1);
      if (!edit) return { status: 'approved', message: action.notes };
      const what = `${edit.user} approved the call with changed arguments (${describeEdit(edit)})`;
      if (options.edits) {
        return {
          status: 'approved',
          message: `${what}${action.notes ? `: ${action.notes}` : ''}.`,
          edited: true,
        };
      }
      return {
        status: 'denied',
        message: `The approver required changes before approving: ${what}. This client cannot run edited arguments, so the call did not run; make it again with ${edit.after}${action.notes ? ` (notes: ${action.notes})` : ''}.`,
        edited: true,
      };
    }
    case 'denied':
      return { status: 'denied', message: action.notes };
    case 'cancelled':
      return {
        status: 'denied',
        message: `The agent cancelled the call while it was held${action.notes ? ` (${action.notes})` : ''}; it did not run.`,
      };
    case 'expired': {
      const at = new Date(action.expiresAt ?? action.decidedAt ?? action.createdAt).toISOString();
      return action.onTimeout === 'allow'
        ? {
            status: 'approved',
            message: `Nobody decided before the approval expired at ${at}; the policy's on_timeout is allow, so the call may run.`,
          }
        : {
            status: 'denied',
            message: `Approval expired at ${at} without a decision (on_timeout: deny).`,
          };
    }
    default:
      return action.decision === 'block'
        ? { status: 'denied', message: blockedMessage(action) }
        : { status: 'approved', message: null };
  }
}

// A sentence for ardenpy's `message` (it shows it to the user): which policy blocked the call
// and why, as logged when it was checked.
function blockedMessage(action: ActionRecord): string {
  const tool = `Tool '${action.toolName}' was blocked`;
  if (action.reason === 'no_policy_configured') {
    return `${tool}: no policy matches it and the agent's default action is block.`;
  }
  const why = action.policy?.explanation?.trim();
  if (why) return `${tool}. ${/[.!?]$/.test(why) ? why : `${why}.`}`;
  const policy = action.policy?.policy;
  return `${tool}${policy ? ` by policy "${policy.name}"` : ''}.`;
}

/**
 * Decisions on held actions: `decide()` for approvers, expiry for the sweeper. Each is atomic
 * (the first decision wins; the UPDATE only matches a pending row), writes the webhook outbox
 * row in the same transaction, then wakes the waiting agents and emits a live event.
 */
export class ApprovalService {
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private sweeping: Promise<number> | undefined;
  private readonly clock: () => number;
  private readonly telemetry: Telemetry | undefined;
  private readonly receipts: ReceiptService | undefined;

  constructor(
    private readonly store: Store,
    private readonly hub: ApprovalHub,
    private readonly events: LiveEvents,
    private readonly webhooks: WebhookService,
    private readonly logger: Logger,
    options: {
      clock?: () => number;
      telemetry?: Telemetry;
      receipts?: ReceiptService;
      policies?: PolicyService;
      sensitive?: SensitiveArguments;
    } = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.telemetry = options.telemetry;
    this.receipts = options.receipts;
    this.policies = options.policies;
    this.sensitive = options.sensitive;
  }

  private readonly sensitive: SensitiveArguments | undefined;

  /** Signs and stores the receipt of a decision, in the decision's transaction. */
  private async receipt(
    repositories: Repositories,
    action: ActionRecord,
    now: number,
  ): Promise<string | undefined> {
    if (!this.receipts?.enabled) return undefined;
    // Sensitive arguments: the receipt binds the verbatim call, as the check's did.
    const verbatim = await this.sensitive?.verbatim(repositories, action);
    const input = decisionReceiptInput(verbatim?.action ?? action, now);
    if (verbatim) input.extra = { ...input.extra, ...redactionClaims(verbatim.paths, action) };
    const issued = this.receipts.sign(input);
    if (!issued) return undefined;
    await repositories.receipts.insert(issued);
    return issued.receipt;
  }

  private readonly policies: PolicyService | undefined;

  /**
   * Approves or denies a pending action. Throws `NotFoundError` for an unknown action and
   * `ConflictError` (HTTP 409) when it was already decided, expired, or never needed approval.
   */
  async decide(actionId: string, input: DecisionInput): Promise<ActionRecord> {
    if (!this.telemetry) return this.decideNow(actionId, input);
    return this.telemetry.approvalDecision(actionId, () => this.decideNow(actionId, input));
  }

  private async decideNow(actionId: string, input: DecisionInput): Promise<ActionRecord> {
    if (input.decision !== 'approve' && input.decision !== 'deny') {
      throw new ValidationError('decision must be "approve" or "deny".', 'decision');
    }
    const notes = input.notes ?? null;
    if (notes !== null && typeof notes !== 'string') {
      throw new ValidationError('notes must be a string.', 'notes');
    }
    const now = this.clock();
    const outcome = await this.store.transaction(async (repositories) => {
      // Locked for the transaction: votes cast at once on several replicas are counted in turn.
      const found = await repositories.approvals.lockAction(actionId);
      const locked = found ? await repositories.actions.get(actionId) : undefined;
      if (locked?.status !== 'pending' || (locked.expiresAt !== null && locked.expiresAt <= now)) {
        return { current: locked };
      }
      const vote = await castVote(repositories, this.policies, locked, input, now);
      if (!vote.final) {
        await repositories.approvals.saveState(actionId, vote.state);
        return { counted: { ...locked, approval: vote.state } };
      }
      const decided = await repositories.actions.decide(
        actionId,
        { status: vote.status, decidedBy: input.userId, notes: vote.notes },
        now,
      );
      if (!decided) return { current: await repositories.actions.get(actionId) };
      const updated = await repositories.approvals.saveDecided(decided, vote.state);
      const receipt = await this.receipt(repositories, updated, now);
      const delivery = await this.webhooks.enqueue(
        repositories,
        updated,
        { adminUserId: input.userId, notes: updated.notes, receipt },
        now,
      );
      return { updated, delivery };
    });
    if (outcome.counted) {
      this.logger.info('Approval counted; more are needed', {
        actionId,
        votes: outcome.counted.approval?.votes.length,
      });
      // Dashboards showing the action update its "1 of 2" and who approved.
      this.events.emit({ type: 'action.voted', action: outcome.counted });
      return outcome.counted;
    }
    if (!outcome.updated) {
      const current = outcome.current;
      if (!current) throw new NotFoundError(`No action ${actionId}.`);
      if (current.status === 'pending') {
        // Overdue but not swept yet: apply the timeout now, then report the conflict.
        const expired = await this.expire(actionId);
        throw new ConflictError(
          `Action ${actionId} expired at ${new Date(current.expiresAt ?? now).toISOString()} before it was decided.`,
          { status: expired?.status ?? 'expired' },
        );
      }
      throw new ConflictError(
        current.status === 'completed'
          ? `Action ${actionId} did not need approval (it was ${current.decision === 'block' ? 'blocked' : 'allowed'} by policy).`
          : current.status === 'cancelled'
            ? `Action ${actionId} was cancelled by its agent while it was held${current.notes ? ` (${current.notes})` : ''}; the call is gone and did not run, so it cannot be approved or denied.`
            : `Action ${actionId} was already ${current.status}${current.decidedBy ? ` by ${current.decidedBy}` : ''}; the first decision stands.`,
        { status: current.status, decidedBy: current.decidedBy, decidedAt: current.decidedAt },
      );
    }
    this.announce(outcome.updated, outcome.delivery !== undefined);
    return outcome.updated;
  }

  private announce(action: ActionRecord, queuedWebhook: boolean): void {
    const notice = statusOf(action);
    if (notice.status !== 'pending') {
      this.hub.wake(action.id, notice);
      // Other replicas' waiters hear it through the database (PostgreSQL NOTIFY).
      this.store.database
        .notify?.(
          decisionChannel,
          JSON.stringify({
            actionId: action.id,
            status: notice.status,
            message: notice.message?.slice(0, 1_000) ?? null,
            ...(notice.edited ? { edited: true } : {}),
          }),
        )
        .catch((error) =>
          this.logger.warn('Could not notify other replicas of a decision', { error }),
        );
    }
    this.events.emit({ type: 'action.decided', action });
    if (queuedWebhook) this.webhooks.nudge();
    this.logger.info('Action decided', {
      actionId: action.id,
      agentId: action.agentId,
      status: action.status,
      decidedBy: action.decidedBy,
    });
  }

  /**
   * Cancels a held action for its agent (the client gave up the call, e.g. MCP
   * `notifications/cancelled`): it becomes `cancelled`, never runs, and can no longer be decided.
   * 409 when it was decided (or had expired) first.
   */
  async cancel(actionId: string, reason: string | null): Promise<ActionRecord> {
    const now = this.clock();
    const notes = reason?.trim().slice(0, 1_000) || 'cancelled by the client';
    const cancelled = await this.store.transaction(async (repositories) => {
      await repositories.approvals.lockAction(actionId);
      return repositories.actions.cancel(actionId, now, notes);
    });
    if (!cancelled) {
      const current = await this.store.actions.get(actionId);
      if (!current) throw new NotFoundError(`No action ${actionId}.`);
      throw new ConflictError(
        current.status === 'completed'
          ? `Action ${actionId} was not held (it was ${current.decision === 'block' ? 'blocked' : 'allowed'} by policy); there is nothing to cancel.`
          : `Action ${actionId} was already ${current.status}${current.decidedBy ? ` by ${current.decidedBy}` : ''} before the cancellation; it stands.`,
        { status: current.status, decidedBy: current.decidedBy, decidedAt: current.decidedAt },
      );
    }
    this.announce(cancelled, false);
    return cancelled;
  }

  /** Applies the timeout to one overdue pending action; undefined if it is not overdue. */
  async expire(actionId: string): Promise<ActionRecord | undefined> {
    const now = this.clock();
    const outcome = await this.store.transaction(async (repositories) => {
      const current = await repositories.actions.get(actionId);
      if (current?.status !== 'pending') return undefined;
      const notes = statusOf({ ...current, status: 'expired' }).message;
      const expired = await repositories.actions.expire(actionId, now, notes ?? 'expired');
      if (!expired) return undefined;
      const receipt = await this.receipt(repositories, expired, now);
      const delivery = await this.webhooks.enqueue(
        repositories,
        expired,
        { adminUserId: null, notes: expired.notes, expired: true, receipt },
        now,
      );
      return { expired, delivery };
    });
    if (!outcome) return undefined;
    this.announce(outcome.expired, outcome.delivery !== undefined);
    return outcome.expired;
  }

  /**
   * Expires up to `limit` overdue pending actions in one transaction (with their outbox rows),
   * then announces them; returns how many it expired and how many it found.
   */
  private async sweepBatch(limit: number): Promise<{ expired: number; found: number }> {
    const now = this.clock();
    const outcomes = await this.store.transaction(async (repositories) => {
      const overdue = await repositories.actions.lockOverdue(now, limit);
      const results: { expired: ActionRecord; queued: boolean }[] = [];
      for (const current of overdue) {
        const notes = statusOf({ ...current, status: 'expired' }).message;
        const expired = await repositories.actions.expire(current.id, now, notes ?? 'expired');
        if (!expired) continue;
        const receipt = await this.receipt(repositories, expired, now);
        const delivery = await this.webhooks.enqueue(
          repositories,
          expired,
          { adminUserId: null, notes: expired.notes, expired: true, receipt },
          now,
        );
        results.push({ expired, queued: delivery !== undefined });
      }
      return { results, found: overdue.length };
    });
    for (const { expired, queued } of outcomes.results) this.announce(expired, queued);
    return { expired: outcomes.results.length, found: outcomes.found };
  }

  /**
   * Expires every overdue pending action; returns how many. Safe on every replica at once: each
   * batch locks the rows it expires (others skip them), and an action is only expired while it
   * is still pending, so each expires once, with one webhook.
   */
  async sweep(): Promise<number> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = (async () => {
      let count = 0;
      for (;;) {
        const batch = await this.sweepBatch(100);
        count += batch.expired;
        if (batch.found < 100) break;
        // Give requests a turn between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return count;
    })().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /** Starts the expiry sweeper (it reads `expires_at` from the store, so it survives restarts). */
  startSweeper(intervalMs = 1_000): void {
    this.stopSweeper();
    void this.sweep().catch((error) => this.logger.error('Expiry sweep failed', { error }));
    this.sweepTimer = setInterval(() => {
      void this.sweep().catch((error) => this.logger.error('Expiry sweep failed', { error }));
    }, intervalMs);
    this.sweepTimer.unref?.();
  }

  /** Stops the sweeper and waits for a sweep in progress. */
  async stopSweeper(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.sweeping?.catch(() => undefined);
  }
}
