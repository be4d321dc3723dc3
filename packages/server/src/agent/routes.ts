import type { PolicyDecision } from '@arden/policy';
import type { AgentPrincipal } from '../agents/service';
import { cancelRoute } from '../approvals/cancel';
import { acceptsEdits, editedFields, inAppDecisionRoute } from '../approvals/in-app';
import { statusOf } from '../approvals/service';
import { RequestRateLimiter } from '../auth/rate-limit';
import { budgetGatedDecision, registerModelCallRoutes } from '../budgets/routes';
import { toolCostDecision } from '../budgets/tool-cost';
import type { ServerContext } from '../context';
import { parseApiKey } from '../crypto';
import {
  AuthenticationError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ValidationError,
} from '../errors';
import { readJson, readJsonText, sendJson, setBodyTimeout } from '../http/respond';
import type { RequestContext } from '../http/router';
import { uuidv7 } from '../ids';
import { registerMcpAgentRoutes } from '../mcp/agent-routes';
import { MemoryConflictError } from '../memory/service';
import { checkReceiptInput } from '../receipts/service';
import type { ActionRecord, NewAction } from '../store';
import { withoutFinalStop } from '../text';
import { parseCheck, parseResult, parseUsage } from './validate';

const maxWaitSeconds = 30;

/**
 * The agent API's check: `body` is what `POST /policy/check` answers; call `answered` once it
 * went out. Used by the route and, in process, by the MCP HTTP gateway.
 */
export type AgentCheck = (
  principal: AgentPrincipal,
  text: string,
  started: number,
) => Promise<{ body: Record<string, unknown>; answered: () => void }>;

/** What an in-process caller of the agent API needs: the key's principal, and the check. */
export interface InProcessAgentApi {
  /** The principal of an agent key, with one request taken from its rate limit; throws 401/429. */
  authenticateKey: (key: string) => Promise<AgentPrincipal>;
  check: AgentCheck;
}
/** Decisions of one check whose memory keeps moving under it (replicas); then it fails (500). */
const maxMemoryAttempts = 20;
// Action ids are UUIDs; anything else cannot exist, so it is not looked up.
const actionIdPattern = /^[A-Za-z0-9_-]{1,100}$/;
/** Reports accepted in one `POST /v1/actions/results`. */
const maxResultBatch = 1_000;

export function presentedKey(context: RequestContext): string | undefined {
  const header = context.request.headers['x-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key) return key.trim();
  const authorization = context.request.headers.authorization;
  if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim();
  return undefined;
}

/**
 * The agent API's status view of an action. `edits`: the client runs edited arguments (see
 * `approvals/in-app.ts`); an approval with edit then carries the edited call.
 */
export function statusBody(action: ActionRecord, options: { edits?: boolean } = {}) {
  const view = statusOf(action, options);
  return {
    action_id: action.id,
    status: view.status,
    message: view.message,
    created_at: new Date(action.createdAt).toISOString(),
    ...(options.edits ? editedFields(action) : undefined),
    ...(action.approval?.decidedIn === 'app'
      ? { decided_in: 'app', decided_by_user: action.approval.decidedByUser ?? null }
      : undefined),
  };
}

/**
 * Registers the agent API (wire-compatible with ardenpy 0.5.x): `POST /policy/check`,
 * `GET /status/{id}` (with the `?wait=N` long-poll), `POST /token-usage`,
 * `POST /v1/actions/{id}/result`, and `POST /approve|deny/{id}` (always 403 for agent keys).
 */
export function registerAgentRoutes(server: ServerContext): void {
  const { router, store, config, clock } = server;
  const limiter = config.rateLimit > 0 ? new RequestRateLimiter(config.rateLimit) : undefined;

  const authenticate = async (context: RequestContext): Promise<AgentPrincipal> => {
    const key = presentedKey(context);
    if (!key) {
      throw new AuthenticationError(
        'Missing API key. Send it as X-API-Key: arden_live_… (or Authorization: Bearer …); create one with `arden agents keys create`.',
      );
    }
    const principal = await authenticateKey(key);
    setBodyTimeout(context.request, config.bodyTimeoutMs);
    return principal;
  };

  /** An agent key's principal, with one request taken from its rate limit. */
  const authenticateKey = async (key: string): Promise<AgentPrincipal> => {
    if (!parseApiKey(key)) {
      throw new AuthenticationError(
        'The API key is malformed: agent keys look like arden_live_<32 hex> or arden_test_<32 hex>.',
      );
    }
    const principal = await server.agents.authenticate(key);
    if (!principal) {
      throw new AuthenticationError(
        'The API key is not valid: it is unknown or was revoked. Create a new one with `arden agents keys create`.',
      );
    }
    if (limiter) {
      const wait = limiter.take(principal.keyId, clock());
      if (wait > 0) throw new RateLimitedError(wait);
    }
    return principal;
  };

  // An agent key reads only its own agent's actions in its own environment; anything else is
  // "not found", so ids of other agents cannot be probed.
  const ownAction = async (principal: AgentPrincipal, actionId: string): Promise<ActionRecord> => {
    const action = actionIdPattern.test(actionId) ? await store.actions.get(actionId) : undefined;
    if (
      !action ||
      action.agentId !== principal.agent.id ||
      action.environment !== principal.environment
    ) {
      throw new NotFoundError(
        `No action ${actionId.slice(0, 100)} for this API key. Action ids come from POST /policy/check; a key reads only its own agent's actions in its own environment (test or live).`,
      );
    }
    return action;
  };

  /**
   * One check of `POST /policy/check` (its body's text), decided and committed: the answer's
   * body, and `answered` to call once it went out (it tells the live event stream).
   */
  const checkOnce = async (
    principal: AgentPrincipal,
    text: string,
    started: number,
    lookupRefusals: boolean,
  ): ReturnType<AgentCheck> => {
    const input = parseCheck(text, config.checkValueLimit);
    const now = clock();
    const agent = principal.agent;
    // Memory inputs and refused repeats (src/memory/): held until the action is committed.
    const memory = await server.memory.prepare(
      agent,
      principal.environment,
      {
        tool: input.toolName,
        args: input.args,
        kwargs: input.kwargs,
        argsJson: input.argsJson,
        kwargsJson: input.kwargsJson,
        sessionId: input.sessionId,
      },
      now,
      { lookupRefusals },
    );
    const mcp = await server.mcp.checkInput(
      agent.id,
      principal.environment,
      input.toolName,
      input.metadata?.mcp,
    );
    const actionId = uuidv7(now);
    // A policy's `cost` is counted into spend and budgets (budgets/tool-cost.ts); an allowed
    // call's cost is spent in its action's commit.
    const evaluated = memory.repeat
      ? undefined
      : await toolCostDecision(
          server,
          principal,
          {
            actionId,
            tool: input.toolName,
            sessionId: input.sessionId,
            now,
          },
          await budgetGatedDecision(
            server,
            principal,
            input.sessionId,
            await server.telemetry.policyEvaluation(() =>
              server.policies.decide(
                agent,
                principal.environment,
                {
                  tool: input.toolName,
                  kwargs: input.kwargs,
                  sessionId: input.sessionId,
                  mcp,
                  memory: memory.values,
                  textLength: text.length,
                },
                now,
              ),
            ),
          ),
        );
    const decision = memory.repeat?.decision ?? (evaluated?.decision as PolicyDecision);
    const pending = decision.effect === 'requires_approval';
    const timeoutSeconds = Math.min(
      config.maxApprovalTimeoutSeconds,
      Math.max(1, decision.timeout ?? config.approvalTimeoutSeconds),
    );
    const action: NewAction = {
      id: actionId,
      agentId: agent.id,
      environment: principal.environment,
      toolName: input.toolName,
      args: input.args,
      kwargs: input.kwargs,
      metadata: input.metadata,
      argsJson: input.argsJson,
      kwargsJson: input.kwargsJson,
      metadataJson: input.metadataJson,
      sessionId: input.sessionId,
      decision: decision.effect,
      reason: decision.reason,
      policy: {
        policy: decision.policy,
        ruleIndex: decision.ruleIndex,
        errors: decision.errors.length > 0 ? decision.errors : undefined,
        explanation: decision.explanation,
        ...(decision.approval ? { approval: decision.approval } : undefined),
      },
      status: pending ? 'pending' : 'completed',
      expiresAt: pending ? now + timeoutSeconds * 1000 : null,
      onTimeout: pending ? (decision.onTimeout ?? 'deny') : null,
      decidedBy: null,
      decidedAt: pending ? null : now,
      notes: null,
      resultStatus: null,
      durationMs: null,
      resultError: null,
      result: null,
      reportedAt: null,
      createdAt: now,
      argsHash: memory.argsHash,
      repeatOf: memory.repeat?.of ?? null,
    };
    // Sensitive arguments (policy `redact`): the action is stored masked, the verbatim call
    // sealed beside it; the receipt binds the verbatim call.
    const redaction = server.sensitive.redact(
      action,
      await server.policies.sensitivePaths(agent.id, principal.environment, input.toolName, now),
    );
    const stored = redaction?.stored ?? action;
    // The answer (with its action_id) goes out only after the action's row is committed.
    memory.decided(stored);
    // Its receipt is written in the same commit, signed with that commit's other receipts.
    const receipt = server.receipts.issue(
      checkReceiptInput(action, redaction && { paths: redaction.paths, stored }),
    );
    const [inserted = { changes: 0 }] = await server.telemetry.storeCommit(() =>
      store.committer
        .submitAll([
          memory.guard(store.actions.insertStatement(stored), evaluated?.sessionCostNanos),
          ...(redaction ? [redaction.statement] : []),
          ...(receipt ? [receipt.statement] : []),
          ...(evaluated?.statements ?? []),
        ])
        .catch(async (error: unknown) => {
          // Not answered: nothing of its cost may stay held or spent (fail closed).
          await evaluated?.abandon().catch((abandonError: unknown) => {
            server.logger.warn("A failed check's held cost was not given back; the sweep will", {
              actionId,
              error: abandonError instanceof Error ? abandonError.message : String(abandonError),
            });
          });
          throw error;
        })
        .then(memory.committed, memory.failed),
    );
    server.telemetry.checked(stored, started);
    const body: Record<string, unknown> = {
      decision: decision.effect,
      action_id: action.id,
      reason: decision.reason,
      status: pending ? 'pending' : 'completed',
      environment: principal.environment,
      explanation: decision.explanation,
    };
    const policyName = decision.policy ? `policy "${decision.policy.name}"` : undefined;
    const onError = onErrorCause(decision);
    if (decision.effect === 'block') {
      body.message = policyName
        ? `Tool '${input.toolName}' is blocked by ${policyName}${onError ? `: ${onError}` : ''}.`
        : `Tool '${input.toolName}' is blocked: ${decision.reason === 'no_policy_configured' ? "no policy matches it and the agent's default action is block" : withoutFinalStop(decision.explanation)}.`;
    } else if (pending) {
      const expiresAt = new Date(action.expiresAt as number).toISOString();
      body.message = `Tool '${input.toolName}' needs human approval${policyName ? ` (${policyName}${onError ? `: ${onError}` : ''})` : ''}; it is held until approved or denied, or until ${expiresAt} (then on_timeout: ${action.onTimeout}).`;
      body.expires_at = expiresAt;
      body.on_timeout = action.onTimeout;
    }
    if (memory.repeat) {
      body.message = memory.repeat.message;
      body.repeat_of = memory.repeat.of;
    }
    if (decision.reason === 'no_policy_configured') {
      // Extension: a policy whose tool differs only by a prefix was probably meant (see docs/api.md).
      const similar = await server.policies.similarTools(
        agent.id,
        principal.environment,
        input.toolName,
      );
      if (similar.length > 0) body.similar_policy_tools = similar;
    }
    if (decision.policy) {
      body.policy = {
        id: decision.policy.id ?? null,
        name: decision.policy.name,
        tool: decision.policy.tool,
        version: decision.policy.version ?? null,
        rule_index: decision.ruleIndex ?? null,
      };
    }
    if (receipt && !pending) body.receipt = receipt.receipt;
    const answered = () => {
      // Built only when a subscriber takes it (the dashboard's stream, other replicas, or the
      // channels for a held call).
      if (!server.events.wants(pending ? 'action.created:pending' : 'action.created')) return;
      server.events.emit({
        type: 'action.created',
        action: {
          ...stored,
          argsJson: input.argsJson,
          kwargsJson: stored.kwargsJson ?? input.kwargsJson,
          metadataJson: input.metadataJson,
          seq: inserted.lastInsertId ?? 0,
        },
      });
    };
    return { body, answered };
  };

  /**
   * A check whose memory another replica's check of the same session moved before its commit
   * (PostgreSQL, src/memory/) wrote nothing: it is decided again on what is committed now. So is
   * one whose INSERT found that it repeats a refused call (PostgreSQL, a check that did not look
   * its refused repeats up before it was decided): again, and from then on, with the lookup.
   */
  const check: AgentCheck = async (principal, text, started) => {
    let lookupRefusals = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await checkOnce(principal, text, started, lookupRefusals);
      } catch (error) {
        if (!(error instanceof MemoryConflictError) || attempt >= maxMemoryAttempts) throw error;
        if (error.refusal) lookupRefusals = true;
      }
    }
  };

  // The MCP HTTP gateway checks its calls in process with the same two functions.
  registerMcpAgentRoutes(server, authenticate, presentedKey, { authenticateKey, check });

  router.add('POST', '/policy/check', async (context) => {
    const started = performance.now();
    const principal = await authenticate(context);
    const checked = await check(
      principal,
      // A smaller limit than other routes' (config.ts: ARDEN_CHECK_BODY_LIMIT).
      await readJsonText(context.request, config.checkBodyLimit, 'ARDEN_CHECK_BODY_LIMIT'),
      started,
    );
    sendJson(context.response, 200, checked.body);
    checked.answered();
  });

  router.add('GET', '/status/:actionId', async (context) => {
    const principal = await authenticate(context);
    const waitText = context.query.get('wait');
    let waitSeconds = 0;
    if (waitText !== null && waitText !== '') {
      waitSeconds = Number(waitText);
      if (!Number.isFinite(waitSeconds) || waitSeconds < 0) {
        throw new ValidationError(
          `wait must be a number of seconds from 0 to ${maxWaitSeconds}; got "${waitText.slice(0, 50)}".`,
          'wait',
        );
      }
      waitSeconds = Math.min(maxWaitSeconds, waitSeconds);
    }
    const actionId = context.params.actionId as string;
    // The answer carries the receipt of the action's latest decision: a decided action's, or a
    // pending one's hold (`runs: false`), which binds the held call (an adapter that resumes an
    // approval from a framework's messages checks it before it reports an in-app decision).
    const answer = async (body: ReturnType<typeof statusBody>) => {
      const receipt = server.receipts.enabled
        ? await store.receipts.latest(body.action_id)
        : undefined;
      sendJson(context.response, 200, receipt ? { ...body, receipt } : body);
    };
    const edits = { edits: acceptsEdits(context) };
    let action = await ownAction(principal, actionId);
    if (action.status === 'pending' && action.expiresAt !== null && action.expiresAt <= clock()) {
      action = (await server.approvals.expire(action.id)) ?? (await ownAction(principal, actionId));
    }
    if (action.status !== 'pending' || waitSeconds === 0) {
      await answer(statusBody(action, edits));
      return;
    }
    // Long-poll: register first, then re-read, so a decision between the two is not missed.
    const cancel = new AbortController();
    const waiting = server.hub.wait(
      action.id,
      waitSeconds * 1000,
      AbortSignal.any([context.signal, cancel.signal]),
    );
    const current = await ownAction(principal, actionId);
    if (current.status !== 'pending') {
      cancel.abort();
      await answer(statusBody(current, edits));
      return;
    }
    const notice = await waiting;
    if (context.signal.aborted) return;
    if (notice && !notice.edited) {
      await answer({
        action_id: action.id,
        status: notice.status,
        message: notice.message,
        created_at: new Date(action.createdAt).toISOString(),
      });
      return;
    }
    await answer(statusBody(await ownAction(principal, actionId), edits));
  });

  router.add('POST', '/token-usage', async (context) => {
    const principal = await authenticate(context);
    const { batch, events } = parseUsage(
      await readJson(context.request, config.bodyLimit),
      clock(),
    );
    const records = await server.usage.record(principal.agent.id, principal.environment, events);
    server.telemetry.usageRecorded(records);
    const totalTokens = records.reduce(
      (sum, record) => sum + record.promptTokens + record.completionTokens,
      0,
    );
    const totalCost =
      Math.round(records.reduce((sum, record) => sum + record.costUsd, 0) * 1e9) / 1e9;
    if (batch) {
      const unpriced = [
        ...new Set(records.filter((record) => !record.rateFound).map((record) => record.model)),
      ];
      sendJson(context.response, 200, {
        accepted: records.length,
        usage_ids: records.map((record) => record.id),
        total_tokens: totalTokens,
        total_cost_usd: totalCost,
        rate_found: unpriced.length === 0,
        ...(unpriced.length > 0 ? { unpriced_models: unpriced } : {}),
      });
      return;
    }
    const record = records[0] as (typeof records)[number];
    sendJson(context.response, 200, {
      usage_id: record.id,
      model: record.model,
      prompt_tokens: record.promptTokens,
      completion_tokens: record.completionTokens,
      total_tokens: totalTokens,
      total_cost_usd: totalCost,
      rate_found: record.rateFound,
    });
  });

  registerModelCallRoutes(server, authenticate);

  // Extension: many outcome reports in one request (what @arden/core sends), each committed
  // before the answer. A report for an action that is not this key's, or that did not run, is
  // listed in `rejected` instead of failing the batch.
  router.add('POST', '/v1/actions/results', async (context) => {
    const principal = await authenticate(context);
    const body = await readJson(context.request, config.bodyLimit);
    const list = (body as { results?: unknown } | null)?.results;
    if (!Array.isArray(list) || list.length === 0 || list.length > maxResultBatch) {
      throw new ValidationError(
        `results must be a list of 1 to ${maxResultBatch} reports {action_id, status, duration_ms, error?}.`,
        'results',
      );
    }
    const now = clock();
    const reports = list.map((item, index) => {
      const actionId = (item as { action_id?: unknown } | null)?.action_id;
      if (typeof actionId !== 'string' || !actionIdPattern.test(actionId)) {
        throw new ValidationError(
          `results[${index}].action_id must be an action id.`,
          `results[${index}].action_id`,
        );
      }
      try {
        return { actionId, input: parseResult(item) };
      } catch (error) {
        if (error instanceof ValidationError) {
          throw new ValidationError(`results[${index}]: ${error.message}`, `results[${index}]`);
        }
        throw error;
      }
    });
    // One submission: the batch's updates commit together (on the embedded store at once, in
    // one transaction), rather than one queued write (and promise) per report.
    const outcomes = await store.committer.submitAll(
      reports.map(({ actionId, input }) =>
        store.actions.reportResultStatement(
          actionId,
          principal.agent.id,
          principal.environment,
          input,
          now,
        ),
      ),
    );
    const rejected = reports
      .filter((_, index) => outcomes[index]?.changes === 0)
      .map(({ actionId }) => actionId);
    sendJson(context.response, 200, { accepted: reports.length - rejected.length, rejected });
    reports.forEach(({ actionId, input }, index) => {
      if (outcomes[index]?.changes === 0) return;
      server.events.emit({
        type: 'action.reported',
        actionId,
        agentId: principal.agent.id,
        status: input.status,
      });
    });
  });

  router.add('POST', '/v1/actions/:actionId/result', async (context) => {
    const principal = await authenticate(context);
    const input = parseResult(await readJson(context.request, config.bodyLimit));
    const actionId = context.params.actionId as string;
    if (!actionIdPattern.test(actionId)) await ownAction(principal, actionId);
    const now = clock();
    const outcome = await store.committer.submit(
      store.actions.reportResultStatement(
        actionId,
        principal.agent.id,
        principal.environment,
        input,
        now,
      ),
    );
    if (outcome.changes === 0) {
      const action = await ownAction(principal, actionId);
      const state =
        action.status === 'completed'
          ? 'blocked'
          : action.status === 'expired'
            ? 'expired (denied)'
            : action.status;
      throw new ConflictError(
        `Action ${actionId} was ${state}; it did not run, so it has no outcome to report.`,
        { status: action.status },
      );
    }
    sendJson(context.response, 200, {
      action_id: actionId,
      result_status: input.status,
      recorded: true,
    });
    server.events.emit({
      type: 'action.reported',
      actionId,
      agentId: principal.agent.id,
      status: input.status,
    });
  });

  // Extension: claims the single run of an approved action before its tool runs (adapters that
  // resume an approval carried in a framework's messages). 409 when it ran or was claimed before,
  // or cannot run: a replayed approval never runs a second call.
  router.add('POST', '/v1/actions/:actionId/run', async (context) => {
    const principal = await authenticate(context);
    const action = await ownAction(principal, context.params.actionId as string);
    const outcome = await store.committer.submit(
      store.actions.claimRunStatement(
        action.id,
        principal.agent.id,
        principal.environment,
        clock(),
      ),
    );
    if (outcome.changes === 0) {
      const current = await ownAction(principal, action.id);
      throw new ConflictError(
        current.reportedAt !== null
          ? `Action ${action.id} already ran (or its run was claimed); an approval runs one call once.`
          : `Action ${action.id} is ${statusBody(current).status}; it cannot run.`,
        { status: statusBody(current).status, ran: current.reportedAt !== null },
      );
    }
    sendJson(context.response, 200, { action_id: action.id, claimed: true });
  });

  const refuseDecision = async (context: RequestContext) => {
    await authenticate(context);
    throw new ForbiddenError(
      'Agent keys cannot approve or deny their own calls; use the dashboard or `arden approvals approve <action_id>` / `arden approvals deny <action_id>`.',
    );
  };
  router.add(
    'POST',
    '/v1/actions/:actionId/decision',
    inAppDecisionRoute(server, authenticate, ownAction, statusBody),
  );
  router.add(
    'POST',
    '/v1/actions/:actionId/cancel',
    cancelRoute(server, authenticate, ownAction, statusBody),
  );
  router.add('POST', '/approve/:actionId', refuseDecision);
  router.add('POST', '/deny/:actionId', refuseDecision);

  router.add('GET', '/healthz', (context) => {
    sendJson(context.response, 200, { status: 'ok' });
  });
  router.add('GET', '/readyz', async (context) => {
    try {
      await Promise.race([
        store.database.ping(),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('timed out after 2 s')), 2_000).unref(),
        ),
      ]);
      sendJson(context.response, 200, { status: 'ready' });
    } catch (error) {
      server.logger.warn('Readiness check failed', { error });
      sendJson(context.response, 503, {
        status: 'unavailable',
        error: 'The store is not reachable; see the server log.',
      });
    }
  });
}

/**
 * Why the policy's on_error decided, for the agent's message: which rule could not be evaluated
 * (not the error, which names the condition's internals), or which argument has the wrong type.
 */
function onErrorCause(decision: PolicyDecision): string | undefined {
  const error = decision.errors[0];
  if (error === undefined) return undefined;
  if (decision.reason === 'invalid_arguments') return `${error.message} (declared argument types)`;
  if (decision.reason === 'condition_error') {
    return `the condition of rule ${error.ruleIndex + 1} could not be evaluated for these arguments (on_error)`;
  }
  return undefined;
}
