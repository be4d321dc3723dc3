import { createArden, type EditedCall, PolicyDeniedError, withEditedCallNote } from '@arden/core';
import { afterEach, describe, expect, test } from 'vitest';
import type { ActionRecord } from '../store';
import { startTestServer, type TestServer } from '../test-fixtures/harness';
import { UserAdministration } from '../users/service';

// @arden/core against a real server: an approval with edit runs the tool with the edited
// arguments; an in-app decision reported by the app settles the held call.

const servers: TestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

async function start() {
  const t = await startTestServer({ workers: false });
  servers.push(t);
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Refunds',
      tool: 'refund',
      rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
      default: 'allow',
    },
    {
      name: 'Email',
      tool: 'send_email',
      action: 'requires_approval',
      approve_in: ['dashboard', 'app'],
    },
  ]);
  const arden = createArden({ apiKey: t.liveKey, apiUrl: t.url, logLevel: 'silent' });
  const users = new UserAdministration(t.server.store, Date.now, {
    insecureTestPasswordHashing: true,
  });
  const { user } = await users.createUser({
    email: 'ann@example.com',
    role: 'approver',
    password: 'correct horse battery staple',
  });
  return { t, arden, approver: user.id };
}

function nextPending(t: TestServer): Promise<ActionRecord> {
  return new Promise((resolve) => {
    const stop = t.server.events.subscribe((event) => {
      if (event.type === 'action.created' && event.action.status === 'pending') {
        stop();
        resolve(event.action);
      }
    });
  });
}

describe('@arden/core: approve with edit, in-app decisions', () => {
  test('a guarded tool with one object parameter runs with the edited arguments', async () => {
    const { t, arden, approver } = await start();
    const ran: unknown[] = [];
    const edits: EditedCall[] = [];
    const refund = arden.guardTool(
      'refund',
      async (input: { amount: number; order: string }) => {
        ran.push(input);
        return `refunded ${input.amount}`;
      },
      { onEdited: (edited) => edits.push(edited) },
    );
    const held = nextPending(t);
    const running = refund({ amount: 4000, order: 'o-1' });
    const action = await held;
    await t.server.approvals.decide(action.id, {
      decision: 'approve',
      userId: approver,
      kwargs: { amount: 40, order: 'o-1' },
    });
    expect(await running).toBe('refunded 40');
    expect(ran).toEqual([{ amount: 40, order: 'o-1' }]);
    // onEdited told the caller before the tool ran; core's note is what adapters give the model.
    expect(edits).toHaveLength(1);
    expect(withEditedCallNote('refunded 40', edits[0] as EditedCall)).toBe(
      '[Arden] ann@example.com approved the call with changed arguments (amount: 4000 → 40). The tool ran with {"amount":40,"order":"o-1"}; its result follows.\n\nrefunded 40',
    );
    await arden.shutdown();
  });

  test('positional parameters are mapped by argNames', async () => {
    const { t, arden, approver } = await start();
    const refund = arden.guardTool(
      'refund',
      async (amount: number, order: string) => `refunded ${amount} on ${order}`,
      { argNames: ['amount', 'order'] },
    );
    const held = nextPending(t);
    const running = refund(4000, 'o-2');
    const action = await held;
    await t.server.approvals.decide(action.id, {
      decision: 'approve',
      userId: approver,
      patch: [{ op: 'replace', path: '/amount', value: 12 }],
    });
    expect(await running).toBe('refunded 12 on o-2');
    await arden.shutdown();
  });

  test('an in-app decision reported by the app settles the held call', async () => {
    const { t, arden } = await start();
    const send = arden.guardTool(
      'send_email',
      async (input: { to: string }) => `sent to ${input.to}`,
    );
    const held = nextPending(t);
    const running = send({ to: 'a@example.com' }).catch((error: unknown) => error);
    const action = await held;
    const decided = await arden.reportInAppDecision(action.id, {
      decision: 'deny',
      user: 'enduser@example.com',
      notes: 'not now',
    });
    expect(decided).toMatchObject({ status: 'denied', decidedIn: 'app' });
    expect(await running).toBeInstanceOf(PolicyDeniedError);
    const stored = await t.server.store.actions.get(action.id);
    expect(stored?.approval?.decidedIn).toBe('app');
    expect(stored?.approval?.decidedByUser).toBe('enduser@example.com');
    await arden.shutdown();
  });
});

describe('approve with edit: the exact call', () => {
  test('an edit of /amount runs the tool with order_id 12345678901234567891n exactly', async () => {
    const { t, arden, approver } = await start();
    const ran: { amount: unknown; order_id: unknown }[] = [];
    const refund = arden.guardTool(
      'refund',
      async (input: { amount: number; order_id: bigint }) => {
        ran.push(input);
        return 'ok';
      },
    );
    const held = nextPending(t);
    const running = refund({ amount: 4000, order_id: 12345678901234567891n });
    const action = await held;
    expect(action.kwargsJson).toBe('{"amount":4000,"order_id":12345678901234567891}');
    await t.server.approvals.decide(action.id, {
      decision: 'approve',
      userId: approver,
      patch: [{ op: 'replace', path: '/amount', value: 40 }],
    });
    expect(await running).toBe('ok');
    // The approver touched only /amount: order_id is the agent's, byte for byte and as a BigInt.
    expect(ran).toEqual([{ amount: 40, order_id: 12345678901234567891n }]);
    expect(typeof ran[0]?.order_id).toBe('bigint');
    const stored = await t.server.store.actions.get(action.id);
    expect(stored?.approval?.edits.at(-1)?.after).toBe(
      '{"amount":40,"order_id":12345678901234567891}',
    );
  });

  test('untouched values keep their bytes; the approver’s values are kept as written', async () => {
    const { t, approver } = await start();
    const users = new UserAdministration(t.server.store, Date.now, {
      insecureTestPasswordHashing: true,
    });
    const { token } = await users.createToken(approver, 'test');
    const kwargs =
      '{"amount": 4000, "rate": 1.0, "delta": -0, "huge": 1e400, "order_id": 12345678901234567891, "nested": {"a": [1.50, 2], "k": "\\u00e9"}}';
    const checked = await t.request('POST', '/policy/check', {
      raw: `{"tool_name": "refund", "kwargs": ${kwargs}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(checked.json).toMatchObject({ decision: 'requires_approval' });
    const actionId = (checked.json as { action_id: string }).action_id;
    // As the dashboard, the CLI or curl send it: a patch whose values must not become doubles.
    const approved = await fetch(`${t.url}/api/v1/approvals/${actionId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"patch": [{"op": "replace", "path": "/amount", "value": 40.0}, {"op": "replace", "path": "/nested/a/1", "value": 12345678901234567892}]}',
    });
    expect(approved.status).toBe(200);
    const after =
      '{"amount":40.0,"rate":1.0,"delta":-0,"huge":1e400,"order_id":12345678901234567891,"nested":{"a":[1.50,12345678901234567892],"k":"\\u00e9"}}';
    const stored = await t.server.store.actions.get(actionId);
    expect(stored?.approval?.edits.at(-1)?.before).toBe(kwargs);
    expect(stored?.approval?.edits.at(-1)?.after).toBe(after);
    // /status carries the edited text exactly, in kwargs_json and in kwargs.
    const status = await t.request('GET', `/status/${actionId}?capabilities=edits`);
    expect(status.text).toContain(`"kwargs_json":${JSON.stringify(after)}`);
    expect(status.text).toContain(`"kwargs":${after}`);
  });

  test('the whole edited kwargs are kept as the approver wrote them, and checked exactly', async () => {
    const { t, approver } = await start();
    await t.server.policies.saveSet(t.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'refund',
        rules: [
          { if: 'args.order_id == 12345678901234567892u', then: 'block' },
          { if: 'args.amount > 100', then: 'requires_approval' },
        ],
        default: 'allow',
      },
    ]);
    const checked = await t.request('POST', '/policy/check', {
      raw: '{"tool_name": "refund", "kwargs": {"amount": 4000, "order_id": 12345678901234567891}}',
      headers: { 'content-type': 'application/json' },
    });
    const actionId = (checked.json as { action_id: string }).action_id;
    // 12345678901234567892 and …891 are the same double: read as doubles, this edit would not
    // be seen as a change, and the block rule would not match.
    await expect(
      t.server.approvals.decide(actionId, {
        decision: 'approve',
        userId: approver,
        kwargs: {},
        kwargsJson: '{"amount": 40, "order_id": 12345678901234567892}',
      }),
    ).rejects.toThrow(/would be blocked/);
    const decided = await t.server.approvals.decide(actionId, {
      decision: 'approve',
      userId: approver,
      kwargs: {},
      kwargsJson: '{"amount": 40.0, "order_id": 12345678901234567891}',
    });
    expect(decided.status).toBe('approved');
    const edit = decided.approval?.edits.at(-1);
    // As written, without the whitespace between the values.
    expect(edit?.after).toBe('{"amount":40.0,"order_id":12345678901234567891}');
    expect(edit?.patch).toEqual([{ op: 'replace', path: '/amount', value: 40 }]);
  });
});
