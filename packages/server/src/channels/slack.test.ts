import { type Arden, createArden } from '@arden/core';
import { blockActionBody, signSlackRequest } from '@arden/fake-slack';
import { afterEach, describe, expect, test } from 'vitest';
import {
  botToken,
  type ChannelTest,
  signingSecret,
  slackSetup,
  testClock,
  until,
} from './test-support';

let setups: ChannelTest[] = [];
let clients: Arden[] = [];
afterEach(async () => {
  for (const client of clients) await client.shutdown();
  for (const setup of setups) await setup.close();
  setups = [];
  clients = [];
}, 60_000);

async function setup(options: Parameters<typeof slackSetup>[0] = {}) {
  const made = await slackSetup(options);
  setups.push(made);
  return made;
}

function clientOf(s: ChannelTest): Arden {
  const arden = createArden({
    apiKey: s.t.liveKey,
    apiUrl: s.t.url,
    logLevel: 'silent',
    retryAttempts: 0,
  });
  clients.push(arden);
  return arden;
}

/** POSTs a click of `userId` on the posted message, signed as Slack signs it. */
async function click(
  s: ChannelTest,
  options: {
    userId: string;
    decision: 'approve' | 'deny';
    actionId: string;
    secret?: string;
    timestamp?: number;
    note?: string;
  },
) {
  const body = blockActionBody({
    userId: options.userId,
    actionId: options.decision,
    value: options.actionId,
    channel: '#payments-approvals',
    ts: '1.000001',
    note: options.note,
  });
  const headers = signSlackRequest(options.secret ?? signingSecret, body, options.timestamp);
  return send(s, body, headers);
}

async function send(s: ChannelTest, body: string, headers: Record<string, string>) {
  const response = await fetch(`${s.t.url}/channels/slack/${s.channelId}/interactions`, {
    method: 'POST',
    headers,
    body,
  });
  return { status: response.status, json: await response.json() };
}

async function heldRefundPolicy(s: ChannelTest, extra: Record<string, unknown> = {}) {
  await s.t.server.policies.saveSet(s.t.agent.id, 'live', [
    {
      name: 'Refunds',
      tool: 'payments.*',
      action: 'requires_approval',
      notify: ['slack:#payments-approvals'],
      ...extra,
    } as never,
  ]);
}

async function holdOne(s: ChannelTest, amount = 150): Promise<string> {
  const answer = await s.t.request('POST', '/policy/check', {
    body: { tool_name: 'payments.refund', kwargs: { amount } },
  });
  expect(answer.json.decision).toBe('requires_approval');
  return answer.json.action_id;
}

describe('Slack channel', { timeout: 120_000 }, () => {
  test('held call → Slack message → signed click → the waiting agent’s tool runs; message updated', async () => {
    const s = await setup();
    s.slack.addUser('U-APPROVER', 'approver@example.com');
    await heldRefundPolicy(s);
    const arden = clientOf(s);
    let ran = 0;
    const refund = arden.guardTool('payments.refund', async ({ amount }: { amount: number }) => {
      ran++;
      return `refunded ${amount}`;
    });
    const call = refund({ amount: 150 });
    const [posted] = await s.slack.waitFor('chat.postMessage');
    expect(posted?.token).toBe(botToken);
    expect(posted?.args.channel).toBe('#payments-approvals');
    const blocks = JSON.stringify(posted?.args.blocks);
    expect(blocks).toContain('{\\"amount\\":150}');
    expect(blocks).toContain('Refunds');
    const actions = ((posted?.args.blocks ?? []) as any[]).find(
      (block) => block.type === 'actions',
    );
    const actionId = actions.elements[0].value as string;
    expect(actions.elements.map((e: any) => e.action_id)).toEqual(['approve', 'deny']);
    expect(ran).toBe(0);

    const answer = await click(s, {
      userId: 'U-APPROVER',
      decision: 'approve',
      actionId,
      note: 'fine by me',
    });
    expect(answer).toMatchObject({ status: 200, json: { status: 'approved' } });
    await expect(call).resolves.toBe('refunded 150');
    expect(ran).toBe(1);
    const action = await s.t.server.store.actions.get(actionId);
    const approver = await s.t.server.store.users.getByEmail('approver@example.com');
    expect(action).toMatchObject({
      status: 'approved',
      decidedBy: approver?.id,
      notes: 'fine by me',
    });

    const [update] = await s.slack.waitFor('chat.update');
    expect(JSON.stringify(update?.args.blocks)).toContain('Approved* by approver@example.com');
    expect(JSON.stringify(update?.args.blocks)).not.toContain('"approve"');
    const [message] = [...s.slack.messages.values()];
    expect(message?.updates).toBe(1);
  });

  test('a decision in the dashboard updates the Slack message, saying by whom', async () => {
    const s = await setup();
    await heldRefundPolicy(s);
    const actionId = await holdOne(s);
    await s.slack.waitFor('chat.postMessage');
    const denied = await s.t.admin('POST', `/api/v1/approvals/${actionId}/deny`, {
      as: 'approver',
      body: { notes: 'too much' },
    });
    expect(denied.status).toBe(200);
    const [update] = await s.slack.waitFor('chat.update');
    const text = JSON.stringify(update?.args.blocks);
    expect(text).toContain('Denied* by approver@example.com');
    expect(text).toContain('too much');
    // Slack has the update; the outbox marks it delivered once Slack's answer is in.
    const statuses = async () =>
      (await s.t.admin('GET', `/api/v1/actions/${actionId}/channel-messages`)).json.items.map(
        (m: any) => [m.job, m.status],
      );
    await until(async () =>
      (await statuses()).every(([, status]: string[]) => status !== 'pending'),
    );
    expect(await statuses()).toEqual([
      ['notify', 'delivered'],
      ['update', 'delivered'],
    ]);
  });

  test('forged, stale and replayed clicks are refused, and so are users who may not decide', async () => {
    const s = await setup();
    s.slack.addUser('U-APPROVER', 'approver@example.com');
    s.slack.addUser('U-VIEWER', 'viewer@example.com');
    s.slack.addUser('U-STRANGER', 'stranger@example.com');
    await heldRefundPolicy(s);
    const actionId = await holdOne(s);
    await s.slack.waitFor('chat.postMessage');

    const forged = await click(s, {
      userId: 'U-APPROVER',
      decision: 'approve',
      actionId,
      secret: 'not-the-signing-secret',
    });
    expect(forged.status).toBe(401);
    expect(forged.json.error).toContain('X-Slack-Signature does not match');

    const stale = await click(s, {
      userId: 'U-APPROVER',
      decision: 'approve',
      actionId,
      timestamp: Math.floor(Date.now() / 1000) - 301,
    });
    expect(stale.status).toBe(401);
    expect(stale.json.error).toContain('five minutes');

    // A body changed after signing (the action swapped) does not verify either.
    const body = blockActionBody({
      userId: 'U-APPROVER',
      actionId: 'approve',
      value: actionId,
      channel: 'C',
      ts: '1',
    });
    const headers = signSlackRequest(signingSecret, body);
    expect((await send(s, body.replace('U-APPROVER', 'U-APPROVEX'), headers)).status).toBe(401);

    for (const userId of ['U-VIEWER', 'U-STRANGER', 'U-UNKNOWN']) {
      const refused = await click(s, { userId, decision: 'approve', actionId });
      expect(refused.status).toBe(403);
    }
    expect((await s.t.server.store.actions.get(actionId))?.status).toBe('pending');

    const signed = signSlackRequest(signingSecret, body);
    expect((await send(s, body, signed)).status).toBe(200);
    const replay = await send(s, body, signed);
    expect(replay.status).toBe(401);
    expect(replay.json.error).toContain('replay');
    expect((await s.t.server.store.actions.get(actionId))?.status).toBe('approved');
  });

  test('secrets are encrypted at rest and never shown; a 429 is retried after its Retry-After', async () => {
    const clock = testClock();
    const s = await setup({ clock: clock.now });
    const raw = await s.t.server.store.database.all('SELECT * FROM channels');
    expect(JSON.stringify(raw)).not.toContain(botToken);
    expect(JSON.stringify(raw)).not.toContain(signingSecret);
    const shown = await s.t.admin('GET', `/api/v1/channels/${s.channelId}`, { as: 'viewer' });
    expect(shown.json.secrets_set).toEqual(['bot_token', 'signing_secret']);
    expect(shown.text).not.toContain(botToken);

    s.slack.rateLimit(1, 120);
    await heldRefundPolicy(s);
    const actionId = await holdOne(s);
    await s.slack.waitFor('chat.postMessage');
    let [message] = await s.t.server.store.channels.messagesOf(actionId);
    await until(async () => {
      [message] = await s.t.server.store.channels.messagesOf(actionId);
      return message?.attempts === 1;
    });
    expect(message).toMatchObject({ status: 'pending', lastStatus: 429 });
    expect(message?.nextAttemptAt).toBeGreaterThanOrEqual(clock.now() + 120_000);
    const failing = await s.t.admin('GET', '/api/v1/channels');
    expect(failing.json.items[0]).toMatchObject({ failing: true });

    // Not before the Retry-After…
    clock.advance(60_000);
    await s.t.server.channelWorker.round();
    expect(s.slack.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(1);
    // …and at once after it.
    clock.advance(61_000);
    await s.t.server.channelWorker.round();
    await until(
      async () => (await s.t.server.store.channels.messagesOf(actionId))[0]?.status === 'delivered',
    );
    const healthy = await s.t.admin('GET', '/api/v1/channels');
    expect(healthy.json.items[0]).toMatchObject({ failing: false, last_error: null });
  });

  test('two-person approval: "1 of 2 — approved by X" in Slack, buttons kept; the same approver again is refused, ephemerally', async () => {
    const s = await setup();
    s.slack.addUser('U-APPROVER', 'approver@example.com');
    s.slack.addUser('U-ADMIN', 'admin@example.com');
    await heldRefundPolicy(s, { approvals: 2 });
    const actionId = await holdOne(s);
    await s.slack.waitFor('chat.postMessage');
    await until(async () => (await s.t.server.store.channels.messagesOf(actionId))[0]?.ref != null);

    const first = await click(s, { userId: 'U-APPROVER', decision: 'approve', actionId });
    expect(first).toMatchObject({ status: 200, json: { status: 'pending' } });
    const [progress] = await s.slack.waitFor('chat.update');
    const shown = JSON.stringify(progress?.args.blocks);
    expect(shown).toContain('1 of 2* — approved by approver@example.com');
    // The buttons stay for the second approver.
    expect(shown).toContain('"action_id":"approve"');
    expect(shown).toContain('"action_id":"deny"');

    // The same approver again: refused, to them only, and the message is left alone.
    // (A new click: Slack signs it at another second than the first, or it is a replay.)
    const again = await click(s, {
      userId: 'U-APPROVER',
      decision: 'approve',
      actionId,
      timestamp: Math.floor(Date.now() / 1000) - 2,
    });
    expect(again.status).toBe(200);
    expect(again.json.refused).toMatch(/already approved/);
    const [ephemeral] = await s.slack.waitFor('chat.postEphemeral');
    expect(ephemeral?.args).toMatchObject({ channel: '#payments-approvals', user: 'U-APPROVER' });
    expect(String(ephemeral?.args.text)).toMatch(
      /approver@example\.com already approved .*2 approvals from distinct users \(1 so far\)/,
    );
    const waiting = await s.t.server.store.actions.get(actionId);
    expect(waiting?.status).toBe('pending');
    expect(waiting?.approval?.votes).toHaveLength(1);
    expect(s.slack.calls.filter((call) => call.method === 'chat.update')).toHaveLength(1);

    // The second approver decides; the message says so and loses its buttons.
    const second = await click(s, { userId: 'U-ADMIN', decision: 'approve', actionId });
    expect(second).toMatchObject({ status: 200, json: { status: 'approved' } });
    const updates = await s.slack.waitFor('chat.update', 2);
    const decided = JSON.stringify(updates[1]?.args.blocks);
    expect(decided).toContain('Approved* by admin@example.com');
    expect(decided).not.toContain('"action_id":"approve"');
    const [message] = [...s.slack.messages.values()];
    expect(message?.updates).toBe(2);
  });

  test('two-person approval: a first vote cast in the dashboard shows in Slack too', async () => {
    const s = await setup();
    await heldRefundPolicy(s, { approvals: 2 });
    const actionId = await holdOne(s);
    await s.slack.waitFor('chat.postMessage');
    await until(async () => (await s.t.server.store.channels.messagesOf(actionId))[0]?.ref != null);
    const approver = await s.t.server.store.users.getByEmail('approver@example.com');
    const counted = await s.t.server.approvals.decide(actionId, {
      decision: 'approve',
      userId: approver?.id ?? null,
    });
    expect(counted.status).toBe('pending');
    const [progress] = await s.slack.waitFor('chat.update');
    const shown = JSON.stringify(progress?.args.blocks);
    expect(shown).toContain('1 of 2* — approved by approver@example.com');
    expect(shown).toContain('"action_id":"approve"');
    // Once: later rounds queue no second update for the same vote.
    await s.t.server.channelWorker.round();
    await s.t.server.channelWorker.round();
    const updates = (await s.t.server.store.channels.messagesOf(actionId)).filter(
      (m) => m.job === 'update',
    );
    expect(updates).toHaveLength(1);
  });
});
