import type { PolicyDecision } from '@arden/policy';
import type { AgentPrincipal } from '../agents/service';
import type { ServerContext } from '../context';
import { describeBudget, toNanos, toolHoldGraceMs, toUsd } from './service';

// A tool call's money cost (a policy's `cost: args.amount`), counted at check time:
// - allowed: charged at once — added to the spent of every budget that applies, in one
//   transaction that refuses it when it would take one over its limit;
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

/**
 * For `POST /policy/check`: counts the call's cost (the decision's `costUsd`) against the
 * agent's budgets and spend, or lets a budget block or hold the call when it does not fit.
 * Returns the decision to log.
 */
export async function toolCostDecision(
  server: ServerContext,
  principal: AgentPrincipal,
  call: CostedCall,
  decision: PolicyDecision,
): Promise<PolicyDecision> {
  const costUsd = decision.costUsd;
  if (costUsd === undefined || costUsd <= 0 || decision.effect === 'block') return decision;
  const held = decision.effect === 'requires_approval';
  const request = {
    id: call.actionId,
    kind: 'tool' as const,
    subject: call.tool,
    sessionId: call.sessionId,
    usdNanos: toNanos(costUsd),
    tokens: 0,
    priced: true,
    charge: !held,
    // A held call's cost waits for its decision (the sweep keeps it while the call is held).
    expiresAt: holdUntil(server, decision, call.now) + toolHoldGraceMs,
  };
  const { agent, environment } = principal;
  const result = await server.budgets.reserve(agent.id, environment, request);
  const amount = `$${toUsd(request.usdNanos)}`;
  if (result.decision === 'allow') {
    return {
      ...decision,
      explanation: `${decision.explanation} Its cost, ${amount}, is ${held ? 'reserved until the call is decided' : 'counted as spent'}.`,
    };
  }
  const { budget, counter } = result.standing;
  const over = `its cost, ${amount}, would exceed the ${describeBudget(budget)}: spent $${toUsd(counter.spentUsdNanos)}, reserved $${toUsd(counter.reservedUsdNanos)}`;
  if (budget.onExceeded === 'block') {
    return {
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
  }
  // The budget holds the call: an approver may let it through past the limit, so the cost is
  // held regardless and settled if approved.
  await server.budgets.reserve(agent.id, environment, { ...request, charge: false, force: true });
  return {
    ...decision,
    ...(held ? {} : { policy: undefined, ruleIndex: undefined }),
    effect: 'requires_approval',
    reason: held ? decision.reason : 'budget_exceeded',
    explanation: `Over budget: ${over}; the call is held for approval (the budget says requires_approval), its cost reserved until it is decided.`,
  };
}
