import type { PolicyDecision } from '@arden/policy';
import { agentOf, v1 } from '../admin/route-helpers';
import { iso } from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import type { AgentPrincipal } from '../agents/service';
import type { ServerContext } from '../context';
import type { Environment } from '../crypto';
import { ValidationError } from '../errors';
import { readJson, sendJson } from '../http/respond';
import type { RequestContext } from '../http/router';
import type { DescribedRoute } from '../openapi/described-route';
import type { BudgetRecord, ReservationRecord } from './repository';
import * as schemas from './schema';
import { type BudgetStanding, toUsd } from './service';

// Budgets over HTTP: the admin API (`/api/v1/budgets`, an agent's standings) and the agent API's
// `POST /v1/model-calls/check`.

function budgetView(budget: BudgetRecord) {
  return {
    id: budget.id,
    agent_id: budget.agentId,
    environment: budget.environment,
    scope: budget.scope,
    name: budget.name,
    limit_usd: budget.limitUsdNanos === null ? null : toUsd(budget.limitUsdNanos),
    limit_tokens: budget.limitTokens,
    on_exceeded: budget.onExceeded,
    created_at: iso(budget.createdAt) as string,
    updated_at: iso(budget.updatedAt) as string,
  };
}

function windowView({ budget, windowKey, counter }: BudgetStanding) {
  const spentUsd = counter.spentUsdNanos + counter.reservedUsdNanos;
  const spentTokens = counter.spentTokens + counter.reservedTokens;
  return {
    window: windowKey,
    spent_usd: toUsd(counter.spentUsdNanos),
    spent_tokens: counter.spentTokens,
    reserved_usd: toUsd(counter.reservedUsdNanos),
    reserved_tokens: counter.reservedTokens,
    over:
      (budget.limitUsdNanos !== null && spentUsd >= budget.limitUsdNanos) ||
      (budget.limitTokens !== null && spentTokens >= budget.limitTokens),
  };
}

function standingWire(standing: BudgetStanding) {
  const { budget } = standing;
  const { over: _over, ...window } = windowView(standing);
  return {
    id: budget.id,
    name: budget.name,
    scope: budget.scope,
    limit_usd: budget.limitUsdNanos === null ? null : toUsd(budget.limitUsdNanos),
    limit_tokens: budget.limitTokens,
    ...window,
  };
}

function reservationView(reservation: ReservationRecord) {
  return {
    id: reservation.id,
    session_id: reservation.sessionId,
    kind: reservation.kind,
    subject: reservation.subject,
    reserved_usd: toUsd(reservation.usdNanos),
    reserved_tokens: reservation.tokens,
    status: reservation.status,
    created_at: iso(reservation.createdAt) as string,
    expires_at: iso(reservation.expiresAt) as string,
    settled_at: iso(reservation.settledAt),
    usage_id: reservation.usageId,
    actual_usd: reservation.actualUsdNanos === null ? null : toUsd(reservation.actualUsdNanos),
    actual_tokens: reservation.actualTokens,
  };
}

function environmentParam(value: string | undefined): Environment {
  if (value !== 'test' && value !== 'live') {
    throw new ValidationError(
      `The environment in the path must be "test" or "live"; got "${String(value).slice(0, 20)}".`,
      'environment',
    );
  }
  return value;
}

/** The admin API of budgets. */
export const budgetRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/budgets`,
    access: 'viewer',
    tag: 'budgets',
    summary: 'Budgets (of an agent: its own and those of every agent)',
    query: schemas.budgetListQuery,
    response: schemas.budgetList,
    async handler(call) {
      const agentId = call.query.agent
        ? (await call.services.server.agents.getAgent(call.query.agent)).id
        : undefined;
      const items = await call.services.server.budgets.list({
        agentId,
        environment: call.query.environment,
      });
      return { items: items.map(budgetView) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/budgets`,
    access: 'admin',
    tag: 'budgets',
    summary: 'Create a budget (dollars and/or tokens, per session, agent day or environment)',
    body: schemas.createBudget,
    response: schemas.budget,
    status: 201,
    async handler(call) {
      const body = call.body;
      const agentId = body.agent
        ? (await call.services.server.agents.getAgent(body.agent)).id
        : null;
      const created = await call.services.server.budgets.create({
        agentId,
        environment: body.environment,
        scope: body.scope,
        name: body.name,
        limitUsd: body.limit_usd,
        limitTokens: body.limit_tokens,
        onExceeded: body.on_exceeded,
      });
      return budgetView(created);
    },
  }),
  route({
    method: 'PATCH',
    path: `${v1}/budgets/:budget_id`,
    access: 'admin',
    tag: 'budgets',
    summary: "Change a budget's limits, name or on_exceeded",
    params: { budget_id: 'The budget.' },
    body: schemas.updateBudget,
    response: schemas.budget,
    async handler(call) {
      const body = call.body;
      const updated = await call.services.server.budgets.update(call.params.budget_id as string, {
        name: body.name,
        limitUsd: body.limit_usd,
        limitTokens: body.limit_tokens,
        onExceeded: body.on_exceeded,
      });
      return budgetView(updated);
    },
  }),
  route({
    method: 'DELETE',
    path: `${v1}/budgets/:budget_id`,
    access: 'admin',
    tag: 'budgets',
    summary: 'Delete a budget (its counters go with it; held reservations still expire)',
    params: { budget_id: 'The budget.' },
    response: schemas.budget.pick({ id: true }),
    async handler(call) {
      const id = call.params.budget_id as string;
      await call.services.server.budgets.delete(id);
      return { id };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/agents/:agent_id/budgets/:environment`,
    access: 'viewer',
    tag: 'budgets',
    summary: "An agent's budgets with spend and reservations now (or in one session)",
    params: { agent_id: 'Agent id or name.', environment: 'test or live.' },
    query: schemas.budgetOverviewQuery,
    response: schemas.budgetOverview,
    async handler(call) {
      const agent = await agentOf(call);
      const environment = environmentParam(call.params.environment);
      const session = call.query.session ?? null;
      const budgets = call.services.server.budgets;
      const standings = await budgets.standings(agent.id, environment, session);
      const reservations = await budgets.repository.reservations({
        agentId: agent.id,
        environment,
        sessionId: session ?? undefined,
        limit: 50,
      });
      const reserved = await budgets.reservedAmount({
        agentId: agent.id,
        environment,
        sessionId: session ?? undefined,
      });
      return {
        session,
        budgets: standings.map((standing) => ({
          ...budgetView(standing.budget),
          ...windowView(standing),
        })),
        reservations: reservations.map(reservationView),
        reserved_usd: reserved.usd,
        reserved_tokens: reserved.tokens,
      };
    },
  }),
];

// ---- agent API ------------------------------------------------------------------------------

function tokens(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1e12) {
    throw new ValidationError(
      `${field} must be a whole number ≥ 0; got ${JSON.stringify(value) ?? 'nothing'}.`,
      field,
    );
  }
  return value;
}

/** Validates the body of `POST /v1/model-calls/check`. */
export function parseModelCallCheck(body: unknown) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError(
      'The body must be a JSON object {"model", "estimated_input_tokens", "max_output_tokens", "session_id"}.',
    );
  }
  const object = body as Record<string, unknown>;
  const model = object.model;
  if (
    typeof model !== 'string' ||
    model.trim() === '' ||
    model.length > 200 ||
    model.includes('\u0000')
  ) {
    throw new ValidationError(
      'model is required: the model\'s name as a string (1–200 characters), for example "gpt-4o".',
      'model',
    );
  }
  let sessionId: string | null = null;
  const session = object.session_id;
  if (typeof session === 'number' && Number.isFinite(session)) sessionId = String(session);
  else if (typeof session === 'string' && session !== '') {
    if (session.length > 256 || session.includes('\u0000')) {
      throw new ValidationError(
        'session_id must be at most 256 characters, without NUL.',
        'session_id',
      );
    }
    sessionId = session;
  } else if (session !== undefined && session !== null && session !== '') {
    throw new ValidationError('session_id must be a string (or a number).', 'session_id');
  }
  let ttlSeconds: number | undefined;
  if (object.ttl_seconds !== undefined && object.ttl_seconds !== null) {
    const ttl = object.ttl_seconds;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > 3600) {
      throw new ValidationError(
        'ttl_seconds must be a whole number of seconds from 1 to 3600.',
        'ttl_seconds',
      );
    }
    ttlSeconds = ttl;
  }
  return {
    model,
    estimatedInputTokens: tokens(object.estimated_input_tokens, 'estimated_input_tokens'),
    maxOutputTokens: tokens(object.max_output_tokens, 'max_output_tokens'),
    sessionId,
    ttlSeconds,
  };
}

/**
 * Registers `POST /v1/model-calls/check` on the agent API: the reservation is committed before
 * the answer. `authenticate` is the agent API's key check.
 */
export function registerModelCallRoutes(
  server: ServerContext,
  authenticate: (context: RequestContext) => Promise<AgentPrincipal>,
): void {
  server.router.add('POST', '/v1/model-calls/check', async (context) => {
    const principal = await authenticate(context);
    const check = parseModelCallCheck(await readJson(context.request, server.config.bodyLimit));
    const result = await server.budgets.checkModelCall(
      principal.agent.id,
      principal.environment,
      check,
    );
    const estimated = {
      estimated_cost_usd: toUsd(result.usdNanos),
      estimated_tokens: result.tokens,
    };
    if (result.decision === 'refuse') {
      sendJson(context.response, 200, {
        decision: 'refuse',
        reason: result.reason,
        reservation_id: null,
        expires_at: null,
        ...estimated,
        message: result.message,
        budget: standingWire(result.standing),
        budgets: [],
      });
      return;
    }
    sendJson(context.response, 200, {
      decision: 'allow',
      reason: result.reservation ? 'reserved' : 'no_budget',
      reservation_id: result.reservation?.id ?? null,
      expires_at: result.reservation ? iso(result.reservation.expiresAt) : null,
      ...estimated,
      budgets: result.standings.map(standingWire),
    });
  });
}

/** The agent API route of budgets, for the OpenAPI document. */
export const modelCallDescribedRoutes: readonly DescribedRoute[] = [
  {
    method: 'POST',
    path: '/v1/model-calls/check',
    access: 'agent',
    tag: 'agent API',
    summary:
      "Before a model call: reserve its estimated cost against the agent's budgets, or refuse it",
    description:
      'Send the usage record afterwards with `reservation_id` to settle the reservation with the real cost; an unsettled reservation expires after `ttl_seconds`.',
    body: schemas.modelCallCheckRequest,
    response: schemas.modelCallCheckResponse,
  },
];

/**
 * For `POST /policy/check`: a tool call of a session (agent, environment) whose budget is used up
 * is blocked or held, as the budget says. A block stays a block; returns the decision to log.
 */
export async function budgetGatedDecision(
  server: ServerContext,
  principal: AgentPrincipal,
  sessionId: string | null,
  decision: PolicyDecision,
): Promise<PolicyDecision> {
  if (decision.effect === 'block') return decision;
  const gate = await server.budgets.toolGate(principal.agent.id, principal.environment, sessionId);
  if (!gate) return decision;
  if (gate.effect === 'requires_approval' && decision.effect === 'requires_approval')
    return decision;
  // The budget decides, not the policy that allowed the call: the message names the budget.
  return {
    ...decision,
    policy: undefined,
    ruleIndex: undefined,
    effect: gate.effect,
    reason: 'budget_exceeded',
    explanation: `Over budget: ${gate.message}.`,
  };
}
