import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ApprovalEvent,
  Arden,
  buildCallContext,
  guardedToolName,
  type PendingApproval,
} from './arden';
import {
  ApprovalTimeoutError,
  ArdenApiError,
  ArdenUnavailableError,
  ConfigurationError,
  PolicyDeniedError,
} from './errors';
import { sourceTextAccess } from './mcp-exact-json';
import { withSession } from './session';
import { createTestArden } from './test/index';

const instances: Arden[] = [];
function arden(server = createTestArden(), extra: Record<string, unknown> = {}) {
  const instance = new Arden({ ...server.options(), ...extra });
  instances.push(instance);
  return instance;
}
afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.shutdown()));
});

// Promise.withResolvers is Node 22+; this suite runs on Node 20 too.
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

describe('buildCallContext', () => {
  it('sends one plain object as kwargs', () => {
    expect(buildCallContext([{ amount: 5, to: 'a@b.c' }])).toEqual({
      args: [],
      kwargs: { amount: 5, to: 'a@b.c' },
    });
  });
  it('names positional arguments with argNames, extras stay positional', () => {
    expect(buildCallContext([5, 'EUR', true], ['amount', 'currency'])).toEqual({
      args: [true],
      kwargs: { amount: 5, currency: 'EUR' },
    });
  });
  it('sends positional arguments as args otherwise', () => {
    expect(buildCallContext([5, new Date(0)])).toEqual({
      args: [5, '1970-01-01T00:00:00.000Z'],
      kwargs: {},
    });
    expect(buildCallContext([new Map([['a', 1]])])).toEqual({ args: [{ a: 1 }], kwargs: {} });
  });
});

describe('guardTool', () => {
  it('runs an allowed call and returns its result', async () => {
    const server = createTestArden();
    const refund = vi.fn(async ({ amount }: { amount: number }) => `refunded ${amount}`);
    const guarded = arden(server).guardTool('stripe.refund', refund);
    await expect(guarded({ amount: 5 })).resolves.toBe('refunded 5');
    expect(refund).toHaveBeenCalledTimes(1);
    expect(server.checks[0]).toMatchObject({
      toolName: 'stripe.refund',
      kwargs: { amount: 5 },
      decision: 'allow',
    });
  });

  it('keeps `this` and returns synchronous results', async () => {
    const server = createTestArden();
    const instance = arden(server);
    const account = {
      balance: 10,
      read: instance.guardTool('account.read', function (this: { balance: number }) {
        return this.balance;
      }),
    };
    await expect(account.read()).resolves.toBe(10);
  });

  it('never runs a blocked call and says why', async () => {
    const server = createTestArden({
      decisions: () => ({ decision: 'block', message: 'deletes are never allowed' }),
    });
    const drop = vi.fn();
    const guarded = arden(server).guardTool('db.drop', drop);
    const error = await guarded({ table: 'users' }).catch((caught: unknown) => caught);
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      toolName: 'db.drop',
      reason: 'blocked',
      notes: 'deletes are never allowed',
      actionId: server.checks[0]?.actionId,
    });
    expect(drop).not.toHaveBeenCalled();
    expect(server.results).toEqual([]);
  });

  describe('wait mode', () => {
    it('waits by long-poll and runs once approved', async () => {
      const server = createTestArden({ decisions: { 'stripe.refund': 'requires_approval' } });
      const refund = vi.fn(async (_input: { amount: number }) => 'ok');
      const call = arden(server).guardTool('stripe.refund', refund)({ amount: 500 });
      const held = await server.nextPending();
      expect(refund).not.toHaveBeenCalled();
      server.approve(held.actionId, 'fine');
      await expect(call).resolves.toBe('ok');
      expect(refund).toHaveBeenCalledTimes(1);
    });

    it('raises PolicyDeniedError with the approver notes when denied', async () => {
      const server = createTestArden({ decisions: { 'stripe.refund': 'requires_approval' } });
      const refund = vi.fn((_input: { amount: number }) => undefined);
      const call = arden(server)
        .guardTool(
          'stripe.refund',
          refund,
        )({ amount: 500 })
        .catch((error: unknown) => error);
      server.deny((await server.nextPending()).actionId, 'not this customer');
      const error = await call;
      expect(PolicyDeniedError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ reason: 'denied', notes: 'not this customer' });
      expect(refund).not.toHaveBeenCalled();
    });

    it('falls back to polling against a server without long-poll', async () => {
      const server = createTestArden({
        decisions: { 'stripe.refund': 'requires_approval' },
        longPoll: false,
      });
      const fetchSpy = vi.fn(server.fetch);
      const instance = arden(server, { fetch: fetchSpy, pollIntervalMs: 20 });
      const call = instance.guardTool('stripe.refund', async () => 'ok')();
      const held = await server.nextPending();
      const statusCalls = () =>
        fetchSpy.mock.calls.filter(([url]) => String(url).includes('/status/'));
      // Polls at its interval (waited for, not timed: a loaded machine runs timers late).
      await vi.waitFor(() => expect(statusCalls().length).toBeGreaterThanOrEqual(3), {
        timeout: 10_000,
        interval: 10,
      });
      // The first status request asked for a long-poll; later ones stopped asking.
      expect(String(statusCalls()[0]?.[0])).toContain('wait=');
      expect(String(statusCalls().at(-1)?.[0])).not.toContain('wait=');
      server.approve(held.actionId);
      await expect(call).resolves.toBe('ok');
    });

    it('gives up after maxWaitMs with ApprovalTimeoutError and never runs', async () => {
      const server = createTestArden({ decisions: { slow: 'requires_approval' }, longPoll: false });
      const body = vi.fn();
      const error = await arden(server, { maxWaitMs: 50, pollIntervalMs: 10 })
        .guardTool('slow', body)()
        .catch((caught: unknown) => caught);
      expect(ApprovalTimeoutError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ toolName: 'slow', timeoutMs: 50 });
      expect(body).not.toHaveBeenCalled();
    });
  });

  describe('async mode', () => {
    it('returns PendingApproval at once and calls onApproval with the result', async () => {
      const server = createTestArden({ decisions: { send: 'requires_approval' } });
      const approved = deferred<[unknown, ApprovalEvent]>();
      const instance = arden(server);
      const send = instance.guardTool('send', async (to: string) => `sent to ${to}`, {
        approvalMode: 'async',
        onApproval: (result, event) => approved.resolve([result, event]),
      });
      const pending = (await send('bob')) as PendingApproval;
      expect(pending).toMatchObject({ status: 'pending', toolName: 'send' });
      expect(pending.actionId).toBe(server.checks[0]?.actionId);
      server.approve(pending.actionId, 'go');
      const [result, event] = await approved.promise;
      expect(result).toBe('sent to bob');
      expect(event).toMatchObject({
        status: 'approved',
        message: 'go',
        actionId: pending.actionId,
      });
    });

    it('calls onDenial when denied, and when the approved body fails', async () => {
      const server = createTestArden({ decisions: { send: 'requires_approval' } });
      const denials: unknown[] = [];
      const done = deferred<void>();
      const instance = arden(server);
      const send = instance.guardTool(
        'send',
        async () => {
          throw new Error('smtp down');
        },
        {
          approvalMode: 'async',
          onDenial: (error) => {
            denials.push(error);
            if (denials.length === 2) done.resolve();
          },
        },
      );
      const first = (await send()) as PendingApproval;
      const second = (await send()) as PendingApproval;
      server.deny(first.actionId, 'no');
      server.approve(second.actionId);
      await done.promise;
      expect(PolicyDeniedError.isInstance(denials[0])).toBe(true);
      expect((denials[1] as Error).message).toBe('smtp down');
    });

    it('returns the result directly when allowed', async () => {
      const server = createTestArden();
      const send = arden(server).guardTool('send', async () => 'now', { approvalMode: 'async' });
      await expect(send()).resolves.toBe('now');
    });
  });

  it('reports the outcome without the return value, off the critical path', async () => {
    const server = createTestArden();
    const instance = arden(server);
    await instance.guardTool('ok', async () => ({ secret: 'value' }))();
    await instance
      .guardTool('fails', async () => {
        throw new RangeError('bad input');
      })()
      .catch(() => {});
    await instance.flush();
    expect(server.results).toHaveLength(2);
    expect(server.results[0]).toMatchObject({ status: 'succeeded' });
    expect(server.results[0]?.durationMs).toBeGreaterThanOrEqual(0);
    expect(server.results[1]).toMatchObject({ status: 'failed', error: 'RangeError: bad input' });
    expect(JSON.stringify(server.results)).not.toContain('secret');
  });

  it('sends outcome reports in batches, one request for many calls', async () => {
    const server = createTestArden();
    const fetchSpy = vi.fn(server.fetch);
    const instance = arden(server, { fetch: fetchSpy, resultFlushIntervalMs: 50 });
    const tool = instance.guardTool('t', async () => 1);
    for (let index = 0; index < 10; index++) await tool();
    expect(server.results).toHaveLength(0);
    await vi.waitFor(() => expect(server.results).toHaveLength(10));
    const reportRequests = fetchSpy.mock.calls.filter(([url]) =>
      String(url).includes('/v1/actions/'),
    );
    expect(reportRequests).toHaveLength(1);
    expect(server.results.map((result) => result.actionId)).toEqual(
      server.checks.map((check) => check.actionId),
    );
  });

  it('keeps batching reports while a report request is in flight', async () => {
    const server = createTestArden();
    let reportRequests = 0;
    let answerReport: (() => void) | undefined;
    let answerAll = false;
    const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      if (new URL(String(input)).pathname === '/v1/actions/results') {
        reportRequests++;
        if (!answerAll) await new Promise<void>((resolve) => (answerReport = resolve));
      }
      return server.fetch(input, init);
    });
    const instance = arden(server, { fetch, resultFlushIntervalMs: 500 });
    const tool = instance.guardTool('t', async () => 1);
    await tool();
    await vi.waitFor(() => expect(answerReport).toBeDefined());
    // A steady stream of calls: each report is queued while the previous request is in flight.
    for (let index = 0; index < 5; index++) {
      await tool();
      const answer = answerReport;
      answerReport = undefined;
      answer?.();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    answerAll = true;
    answerReport?.();
    await instance.flush();
    expect(server.results).toHaveLength(6);
    // One request for the first call, then the other five in one batch (not one each).
    expect(reportRequests).toBeLessThanOrEqual(3);
  });

  it('falls back to one report per request against a server without the batch endpoint', async () => {
    const server = createTestArden();
    const paths: string[] = [];
    const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const path = new URL(String(input)).pathname;
      paths.push(path);
      if (path === '/v1/actions/results')
        return new Response('{"error":"no route"}', { status: 404 });
      return server.fetch(input, init);
    });
    const instance = arden(server, { fetch });
    const tool = instance.guardTool('t', async () => 1);
    await tool();
    await tool();
    await instance.flush();
    expect(server.results).toHaveLength(2);
    expect(paths.filter((path) => path === '/v1/actions/results')).toHaveLength(1);
    expect(paths.filter((path) => path.endsWith('/result'))).toHaveLength(2);
  });

  it('carries the current session on every check', async () => {
    const server = createTestArden();
    const instance = arden(server);
    const tool = instance.guardTool('t', async () => 1);
    await Promise.all([withSession('s1', () => tool()), withSession('s2', () => tool()), tool()]);
    expect(server.checks.map((check) => check.sessionId).sort()).toEqual(['s1', 's2', undefined]);
  });

  it('names positional arguments with argNames', async () => {
    const server = createTestArden();
    await arden(server).guardTool(
      'pay',
      async (amount: number, currency: string) => `${amount} ${currency}`,
      {
        argNames: ['amount', 'currency'],
      },
    )(5, 'EUR');
    expect(server.checks[0]).toMatchObject({ args: [], kwargs: { amount: 5, currency: 'EUR' } });
  });

  it('marks guarded functions so adapters do not check them twice', () => {
    const guarded = arden().guardTool('crm.lookup', async () => 1);
    expect(guardedToolName(guarded)).toBe('crm.lookup');
    expect(guardedToolName(async () => 1)).toBeUndefined();
    expect(guardedToolName('crm.lookup')).toBeUndefined();
  });

  it('keeps one beforeExit listener however many instances log usage', async () => {
    const before = process.listenerCount('beforeExit');
    for (let index = 0; index < 20; index++) {
      const instance = arden();
      instance.logTokenUsage({ model: 'm', promptTokens: 1, completionTokens: 1 });
      await instance.guardTool('t', async () => 1)();
    }
    expect(process.listenerCount('beforeExit') - before).toBeLessThanOrEqual(1);
  });

  it('validates its own arguments', () => {
    const instance = arden();
    expect(() => instance.guardTool('', () => 1)).toThrow(ConfigurationError);
    expect(() => instance.guardTool('x', 'nope' as never)).toThrow(ConfigurationError);
    expect(() => instance.guardTool('x', () => 1, { approvalMode: 'later' as never })).toThrow(
      /approvalMode/,
    );
  });
});

describe('transport faults', () => {
  const key = `arden_test_${'c'.repeat(32)}`;
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it('fails closed when the server is unreachable', async () => {
    const fetch = vi.fn(async () => {
      throw new TypeError('fetch failed');
    });
    const body = vi.fn();
    const instance = arden(undefined, { apiKey: key, fetch, retryAttempts: 2, logLevel: 'silent' });
    const error = await instance
      .guardTool('t', body)()
      .catch((caught: unknown) => caught);
    expect(ArdenUnavailableError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain("did not run (onUnavailable: 'block')");
    expect(body).not.toHaveBeenCalled();
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it("runs unchecked when onUnavailable is 'allow'", async () => {
    const fetch = vi.fn(async () => json(503, { error: 'down' }));
    const instance = arden(undefined, {
      apiKey: key,
      fetch,
      retryAttempts: 1,
      onUnavailable: 'allow',
      logLevel: 'silent',
    });
    await expect(instance.guardTool('t', async () => 'ran')()).resolves.toBe('ran');
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('does not retry 4xx answers and does not run the tool', async () => {
    const fetch = vi.fn(async () => json(401, { error: 'Invalid API key' }));
    const body = vi.fn();
    const instance = arden(undefined, {
      apiKey: key,
      fetch,
      retryAttempts: 3,
      onUnavailable: 'allow',
    });
    const error = await instance
      .guardTool('t', body)()
      .catch((caught: unknown) => caught);
    expect(ArdenApiError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ statusCode: 401 });
    expect((error as Error).message).toContain('Invalid API key');
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(body).not.toHaveBeenCalled();
  });

  it('backs off between retries of 5xx and then succeeds', async () => {
    const times: number[] = [];
    let calls = 0;
    const fetch = vi.fn(async () => {
      times.push(performance.now());
      calls++;
      return calls < 3
        ? json(502, { error: 'bad gateway' })
        : json(200, { decision: 'allow', action_id: 'a1', reason: 'no_policy_configured' });
    });
    const random = vi.spyOn(Math, 'random').mockReturnValue(1);
    try {
      const instance = arden(undefined, { apiKey: key, fetch, retryAttempts: 3 });
      await expect(instance.check('t', { args: [], kwargs: {} })).resolves.toMatchObject({
        decision: 'allow',
        actionId: 'a1',
      });
    } finally {
      random.mockRestore();
    }
    expect(calls).toBe(3);
    // Full jitter with random() = 1: 200 ms, then 400 ms.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(190);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(390);
  });

  it('honours Retry-After on 429', async () => {
    let calls = 0;
    const started = performance.now();
    const fetch = vi.fn(async () =>
      ++calls === 1
        ? new Response('{"error":"slow down"}', { status: 429, headers: { 'retry-after': '1' } })
        : json(200, { decision: 'allow', action_id: 'a1' }),
    );
    const instance = arden(undefined, { apiKey: key, fetch, retryAttempts: 1 });
    await instance.check('t', { args: [], kwargs: {} });
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('treats a non-JSON answer as unavailable (fail closed)', async () => {
    const fetch = vi.fn(async () => new Response('<html>proxy</html>', { status: 200 }));
    const instance = arden(undefined, { apiKey: key, fetch });
    const error = await instance
      .guardTool('t', vi.fn())()
      .catch((caught: unknown) => caught);
    expect(ArdenUnavailableError.isInstance(error)).toBe(true);
  });

  it('refuses an answer without a decision, never as unreachable', async () => {
    const fetch = vi.fn(async () => json(200, { action_id: 'x' }));
    const instance = arden(undefined, { apiKey: key, fetch, onUnavailable: 'allow' });
    const error = await instance.check('t', { args: [], kwargs: {} }).catch((caught) => caught);
    expect(ArdenApiError.isInstance(error)).toBe(true);
    expect(ArdenUnavailableError.isInstance(error)).toBe(false);
    expect((error as Error).message).toMatch(/valid decision/);
  });

  it.each([
    ['an unknown decision', { decision: 'maybe', action_id: 'x' }],
    ['no decision', { action_id: 'x' }],
    ['no action id', { decision: 'allow' }],
  ])(
    "refuses %s from a server that is up, even with onUnavailable: 'allow'",
    async (_what, answer) => {
      // onUnavailable is for a server that cannot be reached; an answer that is not understood
      // is refused (it used to be read as unreachable, and the tool ran unchecked).
      const fetch = vi.fn(async () => json(200, answer));
      const body = vi.fn(async (_input: { amount: number }) => 'ran');
      const instance = arden(undefined, {
        apiKey: key,
        fetch,
        onUnavailable: 'allow',
        logLevel: 'silent',
      });
      const error = await instance
        .guardTool(
          't',
          body,
        )({ amount: 1 })
        .catch((caught: unknown) => caught);
      expect(body).not.toHaveBeenCalled();
      expect(ArdenApiError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(
        'The call did not run, whatever onUnavailable says',
      );
      if ((answer as { decision?: string }).decision === 'maybe')
        expect((error as Error).message).toContain('"maybe"');
    },
  );

  it('sends the key and JSON headers', async () => {
    const fetch = vi.fn(async (_url: string | URL | Request, _init?: RequestInit) =>
      json(200, { decision: 'allow', action_id: 'a1' }),
    );
    const instance = arden(undefined, { apiKey: key, fetch });
    await instance.check('t', { args: [], kwargs: { a: 1 } });
    const [url, init] = fetch.mock.calls[0]!;
    expect(String(url)).toBe('http://arden.test/policy/check');
    expect(init?.headers).toMatchObject({ 'x-api-key': key, 'content-type': 'application/json' });
    expect(JSON.parse(String(init?.body))).toEqual({
      tool_name: 't',
      args: [],
      kwargs: { a: 1 },
      metadata: {},
    });
  });
});

describe('approve with edit: the edited call is read exactly', () => {
  /** A test server whose /status answers an approval with `editedText` as the edited call. */
  function editingServer(editedText: string) {
    const server = createTestArden({ decisions: { refund: 'requires_approval' } });
    const base = server.options();
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await base.fetch(input, init);
      if (!/\/status\//.test(String(input instanceof Request ? input.url : input))) return response;
      const body = (await response.json()) as Record<string, unknown>;
      if (body.status === 'approved') {
        // `kwargs` as a plain parse reads the text (rounded): the client must not run it.
        body.edited = {
          kwargs: JSON.parse(editedText),
          kwargs_json: editedText,
          patch: [{ op: 'replace', path: '/amount', value: 40 }],
          edited_by: 'ann@example.com',
        };
      }
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    };
    return { server, instance: arden(server, { fetch, logLevel: 'silent' }) };
  }

  it('runs the tool with the values of the edited text: big integers as BigInt, -0 and 1.0 kept', async () => {
    const edited =
      '{"amount":40,"rate":1.0,"delta":-0,"order_id":12345678901234567891,"note":"\\u00e9"}';
    const { server, instance } = editingServer(edited);
    const ran: Record<string, unknown>[] = [];
    const refund = instance.guardTool('refund', async (input: Record<string, unknown>) => {
      ran.push(input);
      return 'ok';
    });
    const running = refund({ amount: 4000, rate: 1, delta: 0, order_id: 12345678901234567891n })
      .then(() => undefined)
      .catch((error: unknown) => error);
    server.approve((await server.nextPending()).actionId);
    const failure = await running;
    if (!sourceTextAccess) {
      // Node.js 20 cannot read 12345678901234567891 exactly: refused, never run rounded.
      expect(PolicyDeniedError.isInstance(failure)).toBe(true);
      expect((failure as Error).message).toMatch(/cannot be run exactly/);
      expect(ran).toEqual([]);
      return;
    }
    expect(failure).toBeUndefined();
    expect(ran).toHaveLength(1);
    expect(ran[0]?.order_id).toBe(12345678901234567891n);
    expect(Object.is(ran[0]?.delta, -0)).toBe(true);
    expect(ran[0]).toMatchObject({ amount: 40, rate: 1, note: 'é' });
  });

  it('runs -0 and 1.0 exactly on every Node.js', async () => {
    const { server, instance } = editingServer('{"amount":40,"rate":1.0,"delta":-0}');
    const ran: Record<string, unknown>[] = [];
    const refund = instance.guardTool('refund', async (input: Record<string, unknown>) => {
      ran.push(input);
      return 'ok';
    });
    const running = refund({ amount: 4000, rate: 1, delta: 0 });
    server.approve((await server.nextPending()).actionId);
    await expect(running).resolves.toBe('ok');
    expect(Object.is(ran[0]?.delta, -0)).toBe(true);
    expect(ran[0]).toMatchObject({ amount: 40, rate: 1 });
  });

  it('refuses an edited call it cannot read exactly (1e400) instead of running something else', async () => {
    const { server, instance } = editingServer('{"amount":1e400}');
    const body = vi.fn(async (_input: { amount: number }) => 'ran');
    const running = instance
      .guardTool(
        'refund',
        body,
      )({ amount: 4000 })
      .catch((error: unknown) => error);
    server.approve((await server.nextPending()).actionId);
    const failure = await running;
    expect(PolicyDeniedError.isInstance(failure)).toBe(true);
    expect((failure as Error).message).toMatch(/cannot be run exactly/);
    expect(body).not.toHaveBeenCalled();
  });
});
