import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../test-fixtures/harness';

let t: TestServer;

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function expectJsonError(
  response: { status: number; headers: Headers; json: any },
  status: number,
) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(typeof response.json?.error).toBe('string');
  expect(response.json.error.length).toBeGreaterThan(10);
  expect(response.json.error).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  t = await startTestServer();
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'No disk formatting', tool: 'system.format_disk', action: 'block' },
    {
      name: 'Refunds',
      tool: 'stripe.issue_refund',
      rules: [{ if: 'args.amount <= 50', then: 'allow' }],
      default: 'requires_approval',
      timeout: 600,
    },
  ]);
});

afterAll(async () => {
  await t.close();
});

describe('POST /policy/check', () => {
  test('allow without a policy, exactly as ardenpy sends it (metadata: null)', async () => {
    const response = await t.request('POST', '/policy/check', {
      body: { tool_name: 'file.read', args: [], kwargs: { path: '/tmp/x' }, metadata: null },
      headers: { 'user-agent': 'Arden-SDK/0.1.0', accept: '*/*' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = response.json;
    expect(body.decision).toBe('allow');
    expect(body.action_id).toMatch(uuid);
    expect(body.reason).toBe('no_policy_configured');
    expect(body.status).toBe('completed');
    expect(body.environment).toBe('live');
    expect(body.message).toBeUndefined();
    expect(body.policy).toBeUndefined();
    const action = await t.server.store.actions.get(body.action_id);
    expect(action).toMatchObject({
      toolName: 'file.read',
      args: [],
      kwargs: { path: '/tmp/x' },
      metadata: null,
      sessionId: null,
      decision: 'allow',
      status: 'completed',
      reason: 'no_policy_configured',
    });
  });

  test('a call matched by no policy names the policies whose tool differs only by a prefix', async () => {
    const prefixed = await t.request('POST', '/policy/check', {
      body: { tool_name: 'support.stripe.issue_refund', kwargs: { amount: 5000 } },
    });
    expect(prefixed.status).toBe(200);
    expect(prefixed.json.reason).toBe('no_policy_configured');
    expect(prefixed.json.similar_policy_tools).toEqual(['stripe.issue_refund']);
    const bare = await t.request('POST', '/policy/check', { body: { tool_name: 'issue_refund' } });
    expect(bare.json.similar_policy_tools).toEqual(['stripe.issue_refund']);
    const matched = await t.request('POST', '/policy/check', {
      body: { tool_name: 'stripe.issue_refund', kwargs: { amount: 5 } },
    });
    expect(matched.json.reason).toBe('rule_matched');
    expect(matched.json.similar_policy_tools).toBeUndefined();
    const unrelated = await t.request('POST', '/policy/check', {
      body: { tool_name: 'file.read' },
    });
    expect(unrelated.json.similar_policy_tools).toBeUndefined();
  });

  test('args, kwargs and metadata may be missing; the session is logged', async () => {
    const bare = await t.request('POST', '/policy/check', { body: { tool_name: 'file.read' } });
    expect(bare.status).toBe(200);
    const withSession = await t.request('POST', '/policy/check', {
      body: {
        tool_name: 'file.read',
        args: [1, 'two'],
        kwargs: {},
        metadata: { session_id: 's-1', trace: 'x' },
      },
    });
    expect(withSession.status).toBe(200);
    const action = await t.server.store.actions.get(withSession.json.action_id);
    expect(action?.sessionId).toBe('s-1');
    expect(action?.args).toEqual([1, 'two']);
    expect(action?.metadata).toEqual({ session_id: 's-1', trace: 'x' });
  });

  test('block names the policy in message and policy', async () => {
    const response = await t.request('POST', '/policy/check', {
      body: { tool_name: 'system.format_disk', args: [], kwargs: { disk: 'sda' }, metadata: null },
    });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      decision: 'block',
      status: 'completed',
      environment: 'live',
      policy: { name: 'No disk formatting', tool: 'system.format_disk' },
    });
    expect(response.json.message).toContain('No disk formatting');
    expect(typeof response.json.reason).toBe('string');
  });

  test('requires_approval is pending with an expiry; a small refund is allowed by rule', async () => {
    const held = await t.request('POST', '/policy/check', {
      body: { tool_name: 'stripe.issue_refund', args: [], kwargs: { amount: 150 }, metadata: null },
    });
    expect(held.json).toMatchObject({
      decision: 'requires_approval',
      status: 'pending',
      on_timeout: 'deny',
    });
    const expiresAt = Date.parse(held.json.expires_at);
    expect(expiresAt - Date.now()).toBeGreaterThan(590_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(600_000);
    const small = await t.request('POST', '/policy/check', {
      body: { tool_name: 'stripe.issue_refund', args: [], kwargs: { amount: 20 }, metadata: null },
    });
    expect(small.json).toMatchObject({
      decision: 'allow',
      status: 'completed',
      reason: 'rule_matched',
    });
    expect(small.json.policy.rule_index).toBe(0);
  });

  test('policies are per environment: the test key sees no policy', async () => {
    const response = await t.request('POST', '/policy/check', {
      key: t.testKey,
      body: { tool_name: 'system.format_disk', args: [], kwargs: {}, metadata: null },
    });
    expect(response.json).toMatchObject({
      decision: 'allow',
      environment: 'test',
      reason: 'no_policy_configured',
    });
  });

  test.each([
    [{ args: [], kwargs: {}, metadata: null }, 'tool_name'],
    [{ tool_name: 42 }, 'tool_name'],
    [{ tool_name: '' }, 'tool_name'],
    [{ tool_name: 'x', args: {} }, 'args'],
    [{ tool_name: 'x', kwargs: [] }, 'kwargs'],
    [{ tool_name: 'x', kwargs: 'a=1' }, 'kwargs'],
    [{ tool_name: 'x', metadata: 'session' }, 'metadata'],
    [{ tool_name: 'x', metadata: { session_id: true } }, 'metadata.session_id'],
    [{ tool_name: 'x', metadata: { session_id: { id: 7 } } }, 'metadata.session_id'],
  ])('400 names the field: %j', async (body, field) => {
    const response = await t.request('POST', '/policy/check', { body });
    expectJsonError(response, 400);
    expect(response.json.field).toBe(field);
    expect(response.json.error).toContain(field);
  });

  test('400 for bodies that are not a JSON object', async () => {
    for (const raw of ['[1,2]', 'null', '"text"', '{"tool_name": "x",', 'tool_name=x', '']) {
      const response = await t.request('POST', '/policy/check', {
        raw,
        headers: { 'content-type': 'application/json' },
      });
      expectJsonError(response, 400);
    }
    const form = await t.request('POST', '/policy/check', {
      raw: 'tool_name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectJsonError(form, 400);
    expect(form.json.field).toBe('Content-Type');
  });

  test('413 for a body over the limit', async () => {
    const response = await t.request('POST', '/policy/check', {
      body: { tool_name: 'x', kwargs: { blob: 'x'.repeat(1024 * 1024 + 10) } },
    });
    expectJsonError(response, 413);
    expect(response.json.error).toContain('ARDEN_CHECK_BODY_LIMIT');
  });
});

describe('request bodies, however they arrive', () => {
  // Writes `pieces` to one kept-alive socket (a pause after each) and reads `count` answers.
  async function exchange(pieces: string[], count: number) {
    const socket = connect(Number(new URL(t.url).port), '127.0.0.1');
    let buffered = Buffer.alloc(0);
    const answers: { status: number; body: any }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        for (;;) {
          const end = buffered.indexOf('\r\n\r\n');
          if (end === -1) return;
          const head = buffered.subarray(0, end).toString('latin1');
          const length = Number(/content-length: *(\d+)/i.exec(head)?.[1]);
          if (buffered.length < end + 4 + length) return;
          const body = buffered.subarray(end + 4, end + 4 + length).toString('utf8');
          answers.push({ status: Number(head.slice(9, 12)), body: JSON.parse(body) });
          buffered = buffered.subarray(end + 4 + length);
          if (answers.length === count) resolve();
        }
      });
    });
    for (const piece of pieces) {
      socket.write(piece);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await done;
    socket.destroy();
    return answers;
  }

  const head = (framing: string) =>
    `POST /policy/check HTTP/1.1\r\nHost: x\r\nX-API-Key: ${t.liveKey}\r\nContent-Type: application/json\r\n${framing}\r\n`;
  const payload = (path: string) =>
    JSON.stringify({ tool_name: 'file.read', args: [], kwargs: { path }, metadata: null });
  const withLength = (path: string) =>
    `${head(`Content-Length: ${Buffer.byteLength(payload(path))}\r\n`)}${payload(path)}`;

  test('with the headers, in pieces, chunked, and several in one write: each read whole', async () => {
    const inPieces = payload('/b/pieces/é');
    const chunked = payload('/c/chunked/é');
    const pieces = [
      withLength('/a/whole/é'),
      `${head(`Content-Length: ${Buffer.byteLength(inPieces)}\r\n`)}${inPieces.slice(0, 20)}`,
      inPieces.slice(20),
      `${head('Transfer-Encoding: chunked\r\n')}${(20).toString(16)}\r\n${chunked.slice(0, 20)}\r\n`,
      `${Buffer.byteLength(chunked.slice(20)).toString(16)}\r\n${chunked.slice(20)}\r\n0\r\n\r\n`,
      withLength('/d/first/é') + withLength('/e/second/é'),
    ];
    const answers = await exchange(pieces, 5);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    const paths = [];
    for (const answer of answers) {
      expect(answer.body.decision).toBe('allow');
      paths.push((await t.server.store.actions.get(answer.body.action_id))?.kwargs.path);
    }
    expect(paths).toEqual([
      '/a/whole/é',
      '/b/pieces/é',
      '/c/chunked/é',
      '/d/first/é',
      '/e/second/é',
    ]);
  });

  test('a body shorter than its Content-Length is waited for, and a longer one is not read past', async () => {
    const body = payload('/f/late/é');
    const length = Buffer.byteLength(body);
    const [late] = await exchange(
      [`${head(`Content-Length: ${length}\r\n`)}${body.slice(0, -1)}`, body.slice(-1)],
      1,
    );
    expect(late?.status).toBe(200);
    // Declares 2 bytes fewer than it sends: the body is cut there (not JSON), and the rest is
    // read as the next request (not HTTP): a 400, then the connection is answered and closed.
    const [cut] = await exchange([`${head(`Content-Length: ${length - 2}\r\n`)}${body}`], 1);
    expect(cut?.status).toBe(400);
  });
});

describe('authentication', () => {
  test('401 without a key, with a malformed key, an unknown key, a revoked key', async () => {
    const body = { tool_name: 'x', args: [], kwargs: {}, metadata: null };
    expectJsonError(await t.request('POST', '/policy/check', { body, key: null }), 401);
    expectJsonError(await t.request('POST', '/policy/check', { body, key: 'sk-123' }), 401);
    expectJsonError(
      await t.request('POST', '/policy/check', { body, key: `arden_live_${'0'.repeat(32)}` }),
      401,
    );
    const created = await t.server.agents.createKey(t.agent.id, 'live');
    expect((await t.request('POST', '/policy/check', { body, key: created.key })).status).toBe(200);
    await t.server.agents.revokeKey(created.record.id);
    expectJsonError(await t.request('POST', '/policy/check', { body, key: created.key }), 401);
  });

  test('Authorization: Bearer works too', async () => {
    const response = await t.request('POST', '/policy/check', {
      key: null,
      headers: { authorization: `Bearer ${t.liveKey}` },
      body: { tool_name: 'x', args: [], kwargs: {}, metadata: null },
    });
    expect(response.status).toBe(200);
  });
});

describe('GET /status/{action_id}', () => {
  test('pending, then as decided; ISO created_at', async () => {
    const held = await t.request('POST', '/policy/check', {
      body: { tool_name: 'stripe.issue_refund', args: [], kwargs: { amount: 500 }, metadata: null },
    });
    const id = held.json.action_id;
    const pending = await t.request('GET', `/status/${id}`, {
      headers: { 'content-type': 'application/json' },
    });
    expect(pending.status).toBe(200);
    expect(pending.json).toEqual({
      action_id: id,
      status: 'pending',
      message: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      // Extension: the hold's receipt (it binds the held call; it does not let it run) — when the
      // server signs receipts (on PostgreSQL only with ARDEN_RECEIPT_SECRET set).
      ...(t.server.receipts.enabled ? { receipt: expect.stringMatching(/^r2~/) } : {}),
    });
    await t.server.approvals.decide(id, { decision: 'deny', userId: 'user-1', notes: 'Too much' });
    const denied = await t.request('GET', `/status/${id}`);
    expect(denied.json).toMatchObject({ action_id: id, status: 'denied', message: 'Too much' });
  });

  test('a blocked action reads as denied, an allowed one as approved', async () => {
    const blocked = await t.request('POST', '/policy/check', {
      body: { tool_name: 'system.format_disk' },
    });
    expect((await t.request('GET', `/status/${blocked.json.action_id}`)).json.status).toBe(
      'denied',
    );
    const allowed = await t.request('POST', '/policy/check', { body: { tool_name: 'file.read' } });
    expect((await t.request('GET', `/status/${allowed.json.action_id}`)).json.status).toBe(
      'approved',
    );
  });

  test('404 for unknown ids, other agents and the other environment', async () => {
    expectJsonError(await t.request('GET', '/status/does-not-exist'), 404);
    expectJsonError(await t.request('GET', `/status/${'x'.repeat(5000)}`), 404);
    const mine = await t.request('POST', '/policy/check', { body: { tool_name: 'file.read' } });
    expectJsonError(
      await t.request('GET', `/status/${mine.json.action_id}`, { key: t.testKey }),
      404,
    );
    const other = await t.server.agents.createAgent({ name: 'other-agent' });
    const otherKey = await t.server.agents.createKey(other.id, 'live');
    expectJsonError(
      await t.request('GET', `/status/${mine.json.action_id}`, { key: otherKey.key }),
      404,
    );
  });

  test('400 for a bad wait', async () => {
    const mine = await t.request('POST', '/policy/check', { body: { tool_name: 'file.read' } });
    const response = await t.request('GET', `/status/${mine.json.action_id}?wait=soon`);
    expectJsonError(response, 400);
    expect(response.json.field).toBe('wait');
  });

  test('a badly encoded path is 400 JSON', async () => {
    expectJsonError(await t.request('GET', '/status/%E0%A4%A'), 400);
  });
});

describe('POST /token-usage', () => {
  test('one event, as ardenpy sends it', async () => {
    const response = await t.request('POST', '/token-usage', {
      body: {
        model: 'gpt-4o',
        prompt_tokens: 1000,
        completion_tokens: 500,
        session_id: 'sess_abc',
      },
    });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ total_tokens: 1500, rate_found: true });
    expect(response.json.usage_id).toMatch(uuid);
    // gpt-4o: $2.50 in, $10 out per million.
    expect(response.json.total_cost_usd).toBeCloseTo(0.0075, 9);
  });

  test('a dated model name is priced as its base model; an unknown model costs 0', async () => {
    const dated = await t.request('POST', '/token-usage', {
      body: { model: 'gpt-4o-mini-2024-07-18', prompt_tokens: 1_000_000, completion_tokens: 0 },
    });
    expect(dated.json.total_cost_usd).toBeCloseTo(0.15, 9);
    const unknown = await t.request('POST', '/token-usage', {
      body: { model: 'my-local-llama', prompt_tokens: 10, completion_tokens: 5 },
    });
    expect(unknown.json).toMatchObject({ total_tokens: 15, total_cost_usd: 0, rate_found: false });
  });

  test('a batch of events', async () => {
    const response = await t.request('POST', '/token-usage', {
      body: {
        events: [
          {
            model: 'claude-sonnet-4-5',
            prompt_tokens: 100,
            completion_tokens: 10,
            occurred_at: new Date().toISOString(),
          },
          {
            model: 'gemini-2.5-flash',
            prompt_tokens: 100,
            completion_tokens: 10,
            session_id: 's-2',
          },
        ],
      },
    });
    expect(response.json).toMatchObject({ accepted: 2, total_tokens: 220, rate_found: true });
    expect(response.json.usage_ids).toHaveLength(2);
  });

  test.each([
    [{ prompt_tokens: 1, completion_tokens: 1 }, 'model'],
    [{ model: 'gpt-4o', prompt_tokens: -1, completion_tokens: 1 }, 'prompt_tokens'],
    [{ model: 'gpt-4o', prompt_tokens: 1, completion_tokens: '1' }, 'completion_tokens'],
    [{ model: 'gpt-4o', prompt_tokens: 1.5, completion_tokens: 1 }, 'prompt_tokens'],
    [{ events: {} }, 'events'],
    [{ events: [] }, 'events'],
    [
      {
        events: [{ model: 'x', prompt_tokens: 1, completion_tokens: 1, occurred_at: 'yesterday' }],
      },
      'events[0].occurred_at',
    ],
  ])('400 names the field: %j', async (body, field) => {
    const response = await t.request('POST', '/token-usage', { body });
    expectJsonError(response, 400);
    expect(response.json.field).toBe(field);
  });
});

describe('POST /v1/actions/{id}/result', () => {
  test('records the outcome of an allowed call', async () => {
    const allowed = await t.request('POST', '/policy/check', { body: { tool_name: 'file.read' } });
    const id = allowed.json.action_id;
    const response = await t.request('POST', `/v1/actions/${id}/result`, {
      body: { status: 'failed', duration_ms: 12.5, error: 'ENOENT' },
    });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ action_id: id, result_status: 'failed', recorded: true });
    const action = await t.server.store.actions.get(id);
    expect(action).toMatchObject({
      resultStatus: 'failed',
      durationMs: 12.5,
      resultError: 'ENOENT',
    });
  });

  test('409 for a blocked call, 404 for an unknown one, 400 for a bad status', async () => {
    const blocked = await t.request('POST', '/policy/check', {
      body: { tool_name: 'system.format_disk' },
    });
    expectJsonError(
      await t.request('POST', `/v1/actions/${blocked.json.action_id}/result`, {
        body: { status: 'succeeded', duration_ms: 1 },
      }),
      409,
    );
    expectJsonError(
      await t.request('POST', '/v1/actions/nope/result', {
        body: { status: 'succeeded', duration_ms: 1 },
      }),
      404,
    );
    const bad = await t.request('POST', `/v1/actions/${blocked.json.action_id}/result`, {
      body: { status: 'ok', duration_ms: 1 },
    });
    expectJsonError(bad, 400);
    expect(bad.json.field).toBe('status');
  });
});

describe('other routes', () => {
  test('approve and deny with an agent key are 403 JSON', async () => {
    const held = await t.request('POST', '/policy/check', {
      body: { tool_name: 'stripe.issue_refund', kwargs: { amount: 999 } },
    });
    for (const verb of ['approve', 'deny']) {
      const response = await t.request('POST', `/${verb}/${held.json.action_id}`, {
        body: { message: null },
      });
      expectJsonError(response, 403);
      expect(response.json.error).toContain('arden approvals approve');
    }
    expect((await t.request('GET', `/status/${held.json.action_id}`)).json.status).toBe('pending');
  });

  test('unknown routes are 404 JSON, wrong methods 405 JSON', async () => {
    expectJsonError(await t.request('GET', '/nope'), 404);
    const wrong = await t.request('GET', '/policy/check');
    expectJsonError(wrong, 405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  test('healthz and readyz', async () => {
    expect((await t.request('GET', '/healthz', { key: null })).json).toEqual({ status: 'ok' });
    expect((await t.request('GET', '/readyz', { key: null })).json).toEqual({ status: 'ready' });
  });
});

describe('rate limit and live events', () => {
  test('over the per-key rate: 429 JSON with Retry-After', async () => {
    const limited = await startTestServer({ rateLimit: 1, workers: false }, { listen: false });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let index = 0; index < 4; index++) {
        const response = await limited.request('POST', '/policy/check', {
          body: { tool_name: 'x' },
        });
        statuses.push(response.status);
        if (response.status === 429) {
          expectJsonError(response, 429);
          retryAfter = response.headers.get('retry-after');
        }
      }
      expect(statuses.slice(0, 2)).toEqual([200, 200]);
      expect(statuses).toContain(429);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });

  test('action.created carries the logged action with its sequence number', async () => {
    const seen: { id: string; seq: number }[] = [];
    const stop = t.server.events.subscribe((event) => {
      if (event.type === 'action.created')
        seen.push({ id: event.action.id, seq: event.action.seq });
    });
    const response = await t.request('POST', '/policy/check', { body: { tool_name: 'evented' } });
    stop();
    const stored = await t.server.store.actions.get(response.json.action_id);
    expect(seen).toEqual([{ id: response.json.action_id, seq: stored?.seq }]);
  });
});
