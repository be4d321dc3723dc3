import type { PolicyDecision } from '@arden/policy';
import type { AgentPrincipal } from '../agents/service';
import type { ServerContext } from '../context';
import type { Statement } from '../store/database';
import { chargeStatements, type ReservationRecord } from './repository';
import { describeBudget, toNanos, toolHoldGraceMs, toUsd } from './service';

// A tool call's money cost (a policy's `cost: args.amount`), counted at check time:
// - allowed: reserved against every budget that applies (refused when it would take one over
//   its limit), then spent in the action's own commit — if that commit fails, the call was never
//   answered and nothing is spent (what was held is given back);
// - held for approval: reserved until a person decides — approved (or expired with
//   `on_timeout: allow`) settles it as spent, denied or expired gives it back;
// - over a budget: the budget's `on_exceeded` decides (block, or hold — then the approver may
//   take the budget past its limit: the cost is reserved regardless).
// Each is kept as a reservation of kind `tool` whose id is the action's id, so that
// `session.cost_usd` and `agent.cost_usd(window)` count it with recorded usage. A call that was
// allowed stays counted even if the tool then fails: Arden cannot know whether money moved.

/** The call of `POST /policy/check` a tool cost is counted for. */
export interface CostedCall {
  actionId: string;
  tool: string;
  sessionId: string | null;
  /** The time of the check (ms). */
  now: number;
}

/** When a held call's approval ends, as `POST /policy/check` sets it (ms). */
function holdUntil(server: ServerContext, decision: PolicyDecision, now: number): number {
  const { maxApprovalTimeoutSeconds, approvalTimeoutSeconds } = server.config;
  const seconds = Math.min(
    maxApprovalTimeoutSeconds,
    Math.max(1, decision.timeout ?? approvalTimeoutSeconds),
  );
  return now + seconds * 1000;
}

/** The decision of a costed call, and what its action's commit must do about the cost. */
export interface CostedDecision {
  decision: PolicyDecision;
  /** Statements for the action's commit: they spend an allowed call's cost. */
  statements: Statement[];
  /**
   * Nanodollars reserved for the call's session by this check (0: none): what its session's
   * spend grew by, for the action's commit to move the session's memory version
   * (`MemoryLease.guard`: the reservation did not, or this check's own guard would fail).
   */
  sessionCostNanos: number;
  /**
   * After the action's commit failed (the call is not answered): gives back what was held.
   * Should this fail too, the sweep gives it back once the hold expires (its action is missing).
   */
  abandon(): Promise<void>;
}

const nothingToDo = async () => undefined;

/**
 * For `POST /policy/check`: counts the call's cost (the decision's `costUsd`) against the
 * agent's budgets and spend, or lets a budget block or hold the call when it does not fit.
 * Returns the decision to log, and the statements of its commit.
 */
export async function toolCostDecision(
  server: ServerContext,
  principal: AgentPrincipal,
  call: CostedCall,
  decision: PolicyDecision,
): Promise<CostedDecision> {
  const costUsd = decision.costUsd;
  if (costUsd === undefined || costUsd <= 0 || decision.effect === 'block') {
    return { decision, statements: [], sessionCostNanos: 0, abandon: nothingToDo };
  }
  const held = decision.effect === 'requires_approval';
  const request = {
    id: call.actionId,
    kind: 'tool' as const,
    subject: call.tool,
    sessionId: call.sessionId,
    usdNanos: toNanos(costUsd),
    tokens: 0,
    priced: true,
    // A held call's cost waits for its decision (the sweep keeps it while the call is held); an
    // allowed call's is spent by its commit, or given back a minute later if that never happens.
    expiresAt: (held ? holdUntil(server, decision, call.now) : call.now) + toolHoldGraceMs,
  };
  const { agent, environment } = principal;
  const abandon = (reservation: ReservationRecord | undefined) => async () => {
    if (!reservation) return;
    await server.budgets.settleToolCall(
      { id: reservation.id, status: 'denied', onTimeout: null },
      call.now,
    );
  };
  const result = await server.budgets.reserve(agent.id, environment, request);
  const amount = `$${toUsd(request.usdNanos)}`;
  if (result.decision === 'allow') {
    const reservation = result.reservation;
    return {
      decision: {
        ...decision,
        explanation: `${decision.explanation} Its cost, ${amount}, is ${held ? 'reserved until the call is decided' : 'counted as spent'}.`,
      },
      statements: !held && reservation ? chargeStatements(reservation, call.now) : [],
      sessionCostNanos: reservation && call.sessionId !== null ? reservation.usdNanos : 0,
      abandon: abandon(reservation),
    };
  }
  const { budget, counter } = result.standing;
  const over = `its cost, ${amount}, would exceed the ${describeBudget(budget)}: spent $${toUsd(counter.spentUsdNanos)}, reserved $${toUsd(counter.reservedUsdNanos)}`;
  if (budget.onExceeded === 'block') {
    const blocked: PolicyDecision = {
      ...decision,
      policy: undefined,
      ruleIndex: undefined,
      effect: 'block',
      reason: 'budget_exceeded',
      timeout: undefined,
      onTimeout: undefined,
      approval: undefined,
      costUsd: undefined,
      explanation: `Over budget: ${over}.`,
    };
    return { decision: blocked, statements: [], sessionCostNanos: 0, abandon: nothingToDo };
  }
  // The budget holds the call: an approver may let it through past the limit, so the cost is
  // held regardless and settled if approved.
  const forced = await server.budgets.reserve(agent.id, environment, {
    ...request,
    expiresAt: holdUntil(server, decision, call.now) + toolHoldGraceMs,
    force: true,
  });
  return {
    decision: {
      ...decision,
      ...(held ? {} : { policy: undefined, ruleIndex: undefined }),
      effect: 'requires_approval',
      reason: held ? decision.reason : 'budget_exceeded',
      explanation: `Over budget: ${over}; the call is held for approval (the budget says requires_approval), its cost reserved until it is decided.`,
    },
    statements: [],
    sessionCostNanos:
      forced.decision === 'allow' && forced.reservation && call.sessionId !== null
        ? forced.reservation.usdNanos
        : 0,
    abandon: abandon(forced.decision === 'allow' ? forced.reservation : undefined),
  };
}
