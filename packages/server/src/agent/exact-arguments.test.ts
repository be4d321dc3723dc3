import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createArden, PolicyDeniedError, verifyWebhookSignature } from '@arden/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

// The approved call is the checked call, bit for bit: arguments go in as the agent wrote them
// and come back out (store, admin API, webhook) the same, on SQLite and PostgreSQL.

// What ardenpy sends (Python's json.dumps through requests: ", " and ": " separators,
// non-ASCII escaped as \uXXXX, astral characters as surrogate pairs), with numbers a double
// cannot hold, keys out of order, and an integer session id (set_session(123)).
const kwargsText =
  '{"order_id": 12345678901234567891, "amount": 1.0, "cents": 9007199254740993, "zero": -0, "huge": 1e400, "beyond": 18446744073709551616, "note": "caf\\u00e9 caf\u00e9 \\ud83d\\ude00 \u{1F600}", "a": {"z": 1, "b": [1.50, -0.0]}}';
const argsText = '[12345678901234567891, "x"]';
const pythonBody = `{"tool_name": "stripe.issue_refund", "args": ${argsText}, "kwargs": ${kwargsText}, "metadata": {"session_id": 123, "trace": 12345678901234567891}}`;

let t: AdminTestServer;
let hook: Server;
const deliveries: { body: string; headers: Record<string, string | string[] | undefined> }[] = [];

beforeAll(async () => {
  hook = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      deliveries.push({ body: Buffer.concat(chunks).toString('utf8'), headers: request.headers });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  t = await startAdminTestServer({ webhooks: { pollIntervalMs: 20 } });
  await t.server.agents.updateAgent(t.agent.id, {
    webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
  });
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Refunds',
      tool: 'stripe.issue_refund',
      rules: [
        // Exact: the neighbouring uint must not match, as it would with doubles.
        { if: 'args.order_id == 12345678901234567890u', then: 'block' },
        { if: 'args.order_id == 12345678901234567891u', then: 'requires_approval' },
      ],
      default: 'allow',
    },
    { name: 'No disk formatting', tool: 'system.format_disk', action: 'block' },
    {
      name: 'Transfers',
      tool: 'ledger.transfer',
      rules: [
        {
          if: 'args.account == 12345678901234567891u && args.cents > 9007199254740992',
          then: 'block',
        },
      ],
      default: 'allow',
    },
  ]);
});

afterAll(async () => {
  await t?.close();
  hook?.closeAllConnections();
  await new Promise((resolve) => hook?.close(resolve));
});

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('arguments byte for byte', () => {
  let actionId: string;

  beforeAll(async () => {
    const response = await t.request('POST', '/policy/check', {
      raw: pythonBody,
      headers: { 'content-type': 'application/json', 'user-agent': 'python-requests/2.32.3' },
    });
    expect(response.status, response.text).toBe(200);
    actionId = response.json.action_id;
    expect(response.json.decision, response.text).toBe('requires_approval');
  });

  test('the policy compared the exact integer (uint), not its rounded double', async () => {
    const action = await t.server.store.actions.get(actionId);
    expect(action?.policy?.ruleIndex).toBe(1);
  });

  test('stored as text, exactly as sent', async () => {
    const action = await t.server.store.actions.get(actionId);
    expect(action?.kwargsJson).toBe(kwargsText);
    expect(action?.argsJson).toBe(argsText);
    expect(action?.metadataJson).toBe('{"session_id": 123, "trace": 12345678901234567891}');
    expect(action?.sessionId).toBe('123');
    const row = await t.server.store.database.get<{ kwargs: string; args: string }>(
      'SELECT args, kwargs FROM actions WHERE id = ?',
      [actionId],
    );
    expect(row?.kwargs).toBe(kwargsText);
    expect(row?.args).toBe(argsText);
  });

  test('the admin API sends them back verbatim, and as text for browsers', async () => {
    const detail = await t.admin('GET', `/api/v1/actions/${actionId}`);
    expect(detail.status).toBe(200);
    expect(detail.text).toContain(`"kwargs":${kwargsText}`);
    expect(detail.text).toContain(`"args":${argsText}`);
    expect(detail.json.kwargs_json).toBe(kwargsText);
    expect(detail.json.args_json).toBe(argsText);
    const queue = await t.admin('GET', '/api/v1/approvals');
    expect(queue.text).toContain(`"kwargs":${kwargsText}`);
    const listed = queue.json.items.find((item: { id: string }) => item.id === actionId);
    expect(listed.kwargs_json).toBe(kwargsText);
    const log = await t.admin('GET', '/api/v1/actions?limit=5');
    expect(log.text).toContain(`"kwargs":${kwargsText}`);
  });

  test("the webhook's context is the text the agent sent, signed", async () => {
    const decided = await t.admin('POST', `/api/v1/approvals/${actionId}/approve`, {
      body: { notes: 'ok' },
    });
    expect(decided.status, decided.text).toBe(200);
    expect(decided.text).toContain(`"kwargs":${kwargsText}`);
    await until(() => deliveries.some((delivery) => delivery.body.includes(actionId)));
    const delivery = deliveries.find((item) => item.body.includes(actionId));
    const body = delivery?.body as string;
    expect(body).toContain(`"context":${kwargsText}`);
    expect(body).toContain(`"args":${argsText}`);
    expect(
      await verifyWebhookSignature(
        body,
        delivery?.headers['x-arden-timestamp'] as string,
        delivery?.headers['x-arden-signature'] as string,
        t.agent.signingKey,
      ),
    ).toBe(true);
    const [stored] = (await t.server.store.webhooks.list({ actionId })).items;
    const detail = await t.admin('GET', `/api/v1/deliveries/${stored?.id}`);
    expect(detail.status, detail.text).toBe(200);
    expect(detail.text).toContain(`"context":${kwargsText}`);
    // A receiver that parses losslessly (Python's json) gets back the very numbers.
    expect(
      JSON.parse(body, (_key: string, value: unknown, context?: { source?: string }) =>
        typeof value === 'number' ? context?.source : value,
      ).action.context,
    ).toEqual({
      order_id: '12345678901234567891',
      amount: '1.0',
      cents: '9007199254740993',
      zero: '-0',
      huge: '1e400',
      beyond: '18446744073709551616',
      note: 'café café 😀 😀',
      a: { z: '1', b: ['1.50', '-0.0'] },
    });
  });

  test('a draft policy simulated over history sees the exact integers again', async () => {
    const simulated = await t.admin('POST', `/api/v1/agents/${t.agent.id}/policies/live/simulate`, {
      body: {
        policies: [
          {
            name: 'Refunds',
            tool: 'stripe.issue_refund',
            rules: [{ if: 'args.order_id == 12345678901234567891u', then: 'block' }],
            default: 'allow',
          },
        ],
      },
    });
    expect(simulated.status, simulated.text).toBe(200);
    const item = simulated.json.items.find(
      (entry: { action_id: string }) => entry.action_id === actionId,
    );
    expect(item.new.decision).toBe('block');
  });

  test('/status of the approved call', async () => {
    const status = await t.request('GET', `/status/${actionId}`);
    expect(status.json).toMatchObject({ action_id: actionId, status: 'approved', message: 'ok' });
  });
});

describe('ardenpy edges', () => {
  test('an integer session id is the session of its digits', async () => {
    const response = await t.request('POST', '/policy/check', {
      raw: '{"tool_name": "file.read", "args": [], "kwargs": {}, "metadata": {"session_id": 123}}',
    });
    expect(response.status, response.text).toBe(200);
    expect((await t.server.store.actions.get(response.json.action_id))?.sessionId).toBe('123');
    const usage = await t.request('POST', '/token-usage', {
      body: { model: 'gpt-4o', prompt_tokens: 1, completion_tokens: 2, session_id: 123 },
    });
    expect(usage.status, usage.text).toBe(200);
  });

  test.each([
    [
      'a session id that is an object with valueOf',
      '"kwargs": {}, "metadata": {"session_id": {"valueOf": 1}}',
      'metadata.session_id',
      /must be a string .*got an object/,
    ],
    [
      'kwargs that is a uint',
      '"kwargs": 18446744073709551615',
      'kwargs',
      /kwargs must be an object .*got a number/,
    ],
    [
      'metadata that is a uint',
      '"kwargs": {}, "metadata": 18446744073709551615',
      'metadata',
      /metadata must be an object or null; got a number/,
    ],
  ])(
    '%s is a 400 naming the field, not a 500 nor accepted',
    async (_name, members, field, message) => {
      const response = await t.request('POST', '/policy/check', {
        raw: `{"tool_name": "file.read", ${members}}`,
      });
      expect(response.status, response.text).toBe(400);
      expect(response.json.field).toBe(field);
      expect(response.json.error).toMatch(message);
    },
  );

  test('a uint session id (above int64) is the session of its digits', async () => {
    const response = await t.request('POST', '/policy/check', {
      raw: '{"tool_name": "file.read", "metadata": {"session_id": 18446744073709551615}}',
    });
    expect(response.status, response.text).toBe(200);
    expect((await t.server.store.actions.get(response.json.action_id))?.sessionId).toBe(
      '18446744073709551615',
    );
  });

  test('/status of a blocked call says why in a sentence', async () => {
    const blocked = await t.request('POST', '/policy/check', {
      body: { tool_name: 'system.format_disk', args: [], kwargs: { disk: '/dev/sda' } },
    });
    expect(blocked.json.decision).toBe('block');
    const status = await t.request('GET', `/status/${blocked.json.action_id}`);
    expect(status.json.status).toBe('denied');
    expect(status.json.message).toMatch(
      /^Tool 'system\.format_disk' was blocked\. Policy "No disk formatting" .*blocked\.$/,
    );
  });

  test.each([
    ['NaN', 'kwargs.amount', "float('nan')"],
    ['Infinity', 'kwargs.amount', "float('inf')"],
    ['-Infinity', 'kwargs.amount', "float('-inf')"],
  ])("Python's bare %s is refused with a 400 that names %s", async (word, field, python) => {
    const response = await t.request('POST', '/policy/check', {
      raw: `{"tool_name": "stripe.issue_refund", "args": [], "kwargs": {"amount": ${word}}, "metadata": null}`,
    });
    expect(response.status).toBe(400);
    expect(response.json.field).toBe(field);
    expect(response.json.error).toContain(`${field}: ${word} is not a JSON value`);
    expect(response.json.error).toContain(python);
  });

  test('a key sent twice is refused (which copy a parser keeps differs)', async () => {
    const response = await t.request('POST', '/policy/check', {
      raw: '{"tool_name": "stripe.issue_refund", "kwargs": {"amount": 1, "amount": 100000}}',
    });
    expect(response.status).toBe(400);
    expect(response.json.field).toBe('kwargs.amount');
    expect(response.json.error).toMatch(/appears twice/);
  });

  test('a body that is not JSON still gets the plain answer', async () => {
    const response = await t.request('POST', '/policy/check', { raw: '{"tool_name": ' });
    expect(response.status).toBe(400);
    expect(response.json.error).toMatch(/^The request body is not valid JSON/);
  });
});

describe('@arden/core sends a BigInt as an exact integer', () => {
  test('guardTool({account: 12345678901234567891n}) is checked and logged exactly', async () => {
    const arden = createArden({
      apiKey: t.liveKey,
      apiUrl: t.url,
      logLevel: 'silent',
      retryAttempts: 0,
    });
    let ran = false;
    const transfer = arden.guardTool(
      'ledger.transfer',
      async (_input: { account: bigint; cents: bigint }) => {
        ran = true;
      },
    );
    const error = await transfer({
      account: 12345678901234567891n,
      cents: 9007199254740993n,
    }).catch((caught) => caught);
    expect(PolicyDeniedError.isInstance(error), String(error)).toBe(true);
    expect(ran).toBe(false);
    const action = await t.server.store.actions.get(error.actionId);
    expect(action?.kwargsJson).toBe('{"account":12345678901234567891,"cents":9007199254740993}');
    // Its neighbour (equal as a double) is not blocked.
    await transfer({ account: 12345678901234567891n, cents: 9007199254740992n });
    expect(ran).toBe(true);
    await arden.shutdown();
  });
});

// A live event's data as an EventSource reads it: its data lines joined with line feeds.
async function nextEvent(response: Response, type: string, timeoutMs = 5_000): Promise<string> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const lines = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        if (!lines.includes(`event: ${type}`)) continue;
        return lines
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice(6))
          .join('\n');
      }
    }
    throw new Error(`no ${type} event`);
  } finally {
    await reader.cancel();
  }
}

describe('live events', () => {
  test('carry arguments sent over several lines intact, one data line each', async () => {
    const stream = await fetch(`${t.url}/api/v1/events?types=action.created`, {
      headers: { authorization: `Bearer ${t.tokens.viewer}` },
    });
    expect(stream.status).toBe(200);
    const pretty = '{\n  "id": 12345678901234567891,\r\n  "x": 1.0\n}';
    const event = nextEvent(stream, 'action.created');
    const checked = await t.request('POST', '/policy/check', {
      raw: `{"tool_name": "file.read", "kwargs": ${pretty}}`,
    });
    expect(checked.status, checked.text).toBe(200);
    const data = await event;
    const view = JSON.parse(data);
    expect(view.action.id).toBe(checked.json.action_id);
    expect(view.action.kwargs_json).toBe(pretty);
    expect(data).toContain('"kwargs":{\n  "id": 12345678901234567891,\n  "x": 1.0\n}');
  });
});
