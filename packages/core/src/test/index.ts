/**
 * `@arden/core/test`: an in-memory Arden server for your own tests. It speaks the agent API
 * through a `fetch` function you pass to `configure()` or `createArden()`, so no port is opened.
 *
 * ```ts
 * const arden = createTestArden({ decisions: { 'stripe.refund': 'requires_approval' } });
 * configure(arden.options());
 * ```
 */
import type { CheckRequestBody, Decision, UsageEventBody } from '../wire';

/** How the in-memory server decides: per tool name, or by a function of the request. */
export type TestDecider =
  | Partial<Record<string, Decision>>
  | ((request: CheckRequestBody) => Decision | { decision: Decision; message?: string });

/** Options of `createTestArden()`. */
export interface TestArdenOptions {
  /** Decisions per tool name, or a function. Tools not listed get `defaultDecision`. */
  decisions?: TestDecider;
  /** Default `'allow'`. */
  defaultDecision?: Decision;
  /** `'test'` (default) or `'live'`: the key's environment. */
  environment?: 'test' | 'live';
  /** Whether `GET /status/{id}?wait=N` holds the request open (default true). */
  longPoll?: boolean;
}

/** One check the in-memory server received, with what it decided. */
export interface RecordedCheck {
  actionId: string;
  toolName: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  metadata: Record<string, unknown>;
  sessionId: string | undefined;
  decision: Decision;
  status: 'completed' | 'pending' | 'approved' | 'denied';
  notes: string | undefined;
}

/** One reported outcome (`POST /v1/actions/results` or `/v1/actions/{id}/result`). */
export interface RecordedResult {
  actionId: string;
  status: 'succeeded' | 'failed';
  durationMs: number;
  error: string | undefined;
}

/** The in-memory server and what it recorded. */
export interface TestArden {
  /** The `fetch` that reaches this server. */
  fetch: typeof globalThis.fetch;
  /** A valid key for this server's environment. */
  apiKey: string;
  /** Options for `configure()`/`createArden()`: key, URL, fetch, quick polling, silent log. */
  options(): {
    apiKey: string;
    apiUrl: string;
    fetch: typeof globalThis.fetch;
    pollIntervalMs: number;
    retryAttempts: number;
    usageFlushIntervalMs: number;
    logLevel: 'silent';
  };
  /** Every check received, in order. */
  readonly checks: RecordedCheck[];
  /** Every usage event received. */
  readonly usage: UsageEventBody[];
  /** Every outcome report received. */
  readonly results: RecordedResult[];
  /** Approves a held action; waiting agents resume. Throws if it is not pending. */
  approve(actionId: string, notes?: string): void;
  /** Denies a held action. Throws if it is not pending. */
  deny(actionId: string, notes?: string): void;
  /** The actions still waiting for a decision. */
  pending(): RecordedCheck[];
  /** Resolves with the next action held for approval (or one already pending). */
  nextPending(timeoutMs?: number): Promise<RecordedCheck>;
  /** Changes the decisions from now on. */
  setDecisions(decisions: TestDecider): void;
}

let counter = 0;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

/** Creates an in-memory Arden server. See the module comment for an example. */
export function createTestArden(options: TestArdenOptions = {}): TestArden {
  const environment = options.environment ?? 'test';
  const apiKey = `arden_${environment}_${'0123456789abcdef'.repeat(2)}`;
  const apiUrl = 'http://arden.test';
  let decider: TestDecider = options.decisions ?? {};
  const checks: RecordedCheck[] = [];
  const byId = new Map<string, RecordedCheck>();
  const usage: UsageEventBody[] = [];
  const results: RecordedResult[] = [];
  // Approved actions whose single run was claimed.
  const claimed = new Set<string>();
  const waiters = new Map<string, Set<() => void>>();
  const pendingWaiters = new Set<(check: RecordedCheck) => void>();

  const decide = (request: CheckRequestBody): { decision: Decision; message?: string } => {
    if (typeof decider === 'function') {
      const outcome = decider(request);
      return typeof outcome === 'string' ? { decision: outcome } : outcome;
    }
    return { decision: decider[request.tool_name] ?? options.defaultDecision ?? 'allow' };
  };

  const wake = (actionId: string) => {
    for (const resolve of waiters.get(actionId) ?? []) resolve();
    waiters.delete(actionId);
  };

  const decideAction = (actionId: string, status: 'approved' | 'denied', notes?: string) => {
    const check = byId.get(actionId);
    if (!check) throw new Error(`No action ${actionId}.`);
    if (check.status !== 'pending')
      throw new Error(`Action ${actionId} is ${check.status}, not pending.`);
    check.status = status;
    check.notes = notes;
    wake(actionId);
  };

  const handle = async (method: string, url: URL, body: unknown, key: string | null) => {
    if (key !== apiKey) return json(401, { error: 'Invalid or missing API key.' });
    const path = url.pathname;
    if (method === 'POST' && path === '/policy/check') {
      const request = body as CheckRequestBody;
      if (!request || typeof request.tool_name !== 'string') {
        return json(400, { error: 'tool_name is required.' });
      }
      const { decision, message } = decide(request);
      const actionId = `act_${Date.now().toString(36)}_${(++counter).toString(36)}`;
      const metadata = request.metadata ?? {};
      const check: RecordedCheck = {
        actionId,
        toolName: request.tool_name,
        args: request.args ?? [],
        kwargs: request.kwargs ?? {},
        metadata,
        sessionId: typeof metadata.session_id === 'string' ? metadata.session_id : undefined,
        decision,
        status: decision === 'requires_approval' ? 'pending' : 'completed',
        notes: undefined,
      };
      checks.push(check);
      byId.set(actionId, check);
      if (check.status === 'pending') {
        for (const resolve of pendingWaiters) resolve(check);
        pendingWaiters.clear();
      }
      return json(200, {
        decision,
        action_id: actionId,
        reason:
          message ?? (decision === 'allow' ? 'no_policy_configured' : `test decision: ${decision}`),
        status: check.status === 'pending' ? 'pending' : 'completed',
        environment,
        ...(message ? { message } : {}),
      });
    }
    const statusMatch = /^\/status\/([^/]+)$/.exec(path);
    if (method === 'GET' && statusMatch) {
      const check = byId.get(decodeURIComponent(statusMatch[1] as string));
      if (!check) return json(404, { error: 'Action not found.' });
      const wait = Math.min(30, Number(url.searchParams.get('wait') ?? 0));
      if (check.status === 'pending' && wait > 0 && options.longPoll !== false) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait * 1000);
          const set = waiters.get(check.actionId) ?? new Set();
          set.add(() => {
            clearTimeout(timer);
            resolve();
          });
          waiters.set(check.actionId, set);
        });
      }
      const status =
        check.status === 'completed'
          ? check.decision === 'block'
            ? 'denied'
            : 'approved'
          : check.status;
      return json(200, {
        action_id: check.actionId,
        status,
        message: check.notes ?? null,
        created_at: new Date().toISOString(),
      });
    }
    if (method === 'POST' && path === '/token-usage') {
      const events = (body as { events?: UsageEventBody[] }).events ?? [body as UsageEventBody];
      usage.push(...events);
      return json(200, { accepted: events.length });
    }
    if (method === 'POST' && path === '/v1/actions/results') {
      const reports = (body as { results?: Array<Record<string, unknown>> }).results ?? [];
      for (const report of reports) {
        results.push({
          actionId: String(report.action_id),
          status: report.status as 'succeeded' | 'failed',
          durationMs: Number(report.duration_ms),
          error: report.error as string | undefined,
        });
      }
      return json(200, { accepted: reports.length, rejected: [] });
    }
    const resultMatch = /^\/v1\/actions\/([^/]+)\/result$/.exec(path);
    if (method === 'POST' && resultMatch) {
      const report = body as {
        status: 'succeeded' | 'failed';
        duration_ms: number;
        error?: string;
      };
      results.push({
        actionId: decodeURIComponent(resultMatch[1] as string),
        status: report.status,
        durationMs: report.duration_ms,
        error: report.error,
      });
      return json(200, { ok: true });
    }
    // An in-app decision (`Arden.reportInAppDecision`): this server lets every policy take one.
    const decisionMatch = /^\/v1\/actions\/([^/]+)\/decision$/.exec(path);
    if (method === 'POST' && decisionMatch) {
      const check = byId.get(decodeURIComponent(decisionMatch[1] as string));
      if (!check) return json(404, { error: 'Action not found.' });
      if (check.status !== 'pending') return json(409, { error: 'The action was decided.' });
      const { decision, notes } = body as { decision?: string; notes?: string };
      decideAction(check.actionId, decision === 'approve' ? 'approved' : 'denied', notes);
      return json(200, {
        action_id: check.actionId,
        status: check.status,
        message: check.notes ?? null,
        decided_in: 'app',
      });
    }
    // The single run of an approved action (`Arden.claimRun`): once; 409 after.
    const runMatch = /^\/v1\/actions\/([^/]+)\/run$/.exec(path);
    if (method === 'POST' && runMatch) {
      const check = byId.get(decodeURIComponent(runMatch[1] as string));
      if (!check) return json(404, { error: 'Action not found.' });
      const runnable =
        check.status === 'approved' || (check.status === 'completed' && check.decision === 'allow');
      if (!runnable || claimed.has(check.actionId)) {
        return json(409, { error: `Action ${check.actionId} already ran or cannot run.` });
      }
      claimed.add(check.actionId);
      return json(200, { action_id: check.actionId, claimed: true });
    }
    return json(404, { error: `No route ${method} ${path}.` });
  };

  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const text = await request.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return json(400, { error: 'Body is not JSON.' });
    }
    return handle(request.method, new URL(request.url), body, request.headers.get('x-api-key'));
  }) as typeof globalThis.fetch;

  return {
    fetch,
    apiKey,
    options: () => ({
      apiKey,
      apiUrl,
      fetch,
      pollIntervalMs: 10,
      retryAttempts: 0,
      usageFlushIntervalMs: 10,
      logLevel: 'silent' as const,
    }),
    checks,
    usage,
    results,
    approve: (actionId, notes) => decideAction(actionId, 'approved', notes),
    deny: (actionId, notes) => decideAction(actionId, 'denied', notes),
    pending: () => checks.filter((check) => check.status === 'pending'),
    nextPending: (timeoutMs = 5_000) => {
      const existing = checks.find((check) => check.status === 'pending');
      if (existing) return Promise.resolve(existing);
      return new Promise<RecordedCheck>((resolve, reject) => {
        const timer = setTimeout(() => {
          pendingWaiters.delete(done);
          reject(new Error(`No action was held for approval within ${timeoutMs} ms.`));
        }, timeoutMs);
        const done = (check: RecordedCheck) => {
          clearTimeout(timer);
          resolve(check);
        };
        pendingWaiters.add(done);
      });
    },
    setDecisions: (decisions) => {
      decider = decisions;
    },
  };
}
