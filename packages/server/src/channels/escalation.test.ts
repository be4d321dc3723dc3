import { startFakeSlack } from '@arden/fake-slack';
import { afterEach, describe, expect, test } from 'vitest';
import { startTestServer } from '../test-fixtures/harness';
import {
  botToken,
  type ChannelTest,
  secretsKey,
  signingSecret,
  slackSetup,
  testClock,
  until,
} from './test-support';
import { ChannelWorker } from './worker';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}, 60_000);

const minute = 60_000;

describe('reminders and escalation', { timeout: 120_000 }, () => {
  test('remind after N, escalate after M, on_timeout at expiry: all on the timeline, under an injected clock', async () => {
    const clock = testClock();
    const s: ChannelTest = await slackSetup({ clock: clock.now, sweepIntervalMs: 25 });
    cleanups.push(() => s.close());
    await s.t.server.policies.saveSet(s.t.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'payments.refund',
        action: 'requires_approval',
        timeout: 3_600,
        notify: ['slack:#payments'],
        remind_after: 600,
        escalate_after: 1_800,
        escalate_to: ['slack:#payments-leads'],
      } as never,
    ]);
    const held = await s.t.request('POST', '/policy/check', {
      body: { tool_name: 'payments.refund', kwargs: { amount: 900 } },
    });
    const actionId = held.json.action_id as string;
    const posts = () => s.slack.calls.filter((call) => call.method === 'chat.postMessage');
    const settled = (count: number) =>
      until(
        async () =>
          (await s.t.server.store.channels.messagesOf(actionId)).filter(
            (m) => m.status === 'delivered',
          ).length === count,
      );
    await settled(1);
    expect(posts()[0]?.args.text).toMatch(/^Approval needed/);

    // Nothing more before the 10 minutes are up, whatever the worker does.
    clock.advance(9 * minute);
    await s.t.server.channelWorker.round();
    expect(posts()).toHaveLength(1);

    clock.advance(1 * minute + 1);
    s.t.server.channelWorker.nudge();
    await s.slack.waitFor('chat.postMessage', 2);
    expect(posts()[1]?.args).toMatchObject({ channel: '#payments' });
    expect(posts()[1]?.args.text).toMatch(/^Reminder/);
    await settled(2);

    clock.advance(20 * minute);
    s.t.server.channelWorker.nudge();
    await s.slack.waitFor('chat.postMessage', 3);
    expect(posts()[2]?.args).toMatchObject({ channel: '#payments-leads' });
    expect(posts()[2]?.args.text).toMatch(/^Escalated/);
    await settled(3);

    // At expiry the policy's on_timeout (deny) applies, and every message says so.
    clock.advance(31 * minute);
    await until(async () => (await s.t.server.store.actions.get(actionId))?.status === 'expired');
    const updates = await s.slack.waitFor('chat.update', 3);
    for (const update of updates) expect(JSON.stringify(update.args.blocks)).toContain('Expired');

    // Slack has the updates; the outbox marks them delivered once Slack's answers are in.
    const timeline = async (): Promise<string[]> =>
      (await s.t.admin('GET', `/api/v1/actions/${actionId}/channel-messages`)).json.items.map(
        (m: any) => `${m.job} ${m.target} ${m.status}`,
      );
    await until(async () => (await timeline()).every((row) => !row.endsWith(' pending')));
    const rows = await timeline();
    expect(rows.slice(0, 3)).toEqual([
      'notify #payments delivered',
      'remind #payments delivered',
      'escalate #payments-leads delivered',
    ]);
    expect(rows.slice(3).sort()).toHaveLength(3);
    expect(rows.slice(3).every((row: string) => /^update .* delivered$/.test(row))).toBe(true);
  });

  test('a decision cancels the reminders still due', async () => {
    const clock = testClock();
    const s = await slackSetup({ clock: clock.now });
    cleanups.push(() => s.close());
    await s.t.server.policies.saveSet(s.t.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'payments.refund',
        action: 'requires_approval',
        notify: ['slack:#payments'],
        remind_after: 600,
      } as never,
    ]);
    const held = await s.t.request('POST', '/policy/check', {
      body: { tool_name: 'payments.refund', kwargs: { amount: 1 } },
    });
    await s.slack.waitFor('chat.postMessage');
    await s.t.admin('POST', `/api/v1/approvals/${held.json.action_id}/approve`, { as: 'approver' });
    await s.slack.waitFor('chat.update');
    clock.advance(11 * minute);
    await s.t.server.channelWorker.round();
    expect(s.slack.calls.filter((call) => call.method === 'chat.postMessage')).toHaveLength(1);
    const messages = await s.t.server.store.channels.messagesOf(held.json.action_id);
    expect(messages.find((m) => m.job === 'remind')?.status).toBe('cancelled');
  });

  test('a server that dies mid-send: after a restart the message is sent once, nothing lost', async () => {
    const slack = await startFakeSlack();
    cleanups.push(() => slack.close());
    const channels = {
      slackApiUrl: slack.apiUrl,
      secretsKey,
      pollIntervalMs: 25,
      leaseMs: 1_500,
      timeoutMs: 1_000,
    };
    const first = await startTestServer({ channels }, { keepData: true });
    await first.server.channels.create({
      name: 'slack',
      kind: 'slack',
      config: { channel: '#ops' },
      secrets: { bot_token: botToken, signing_secret: signingSecret },
    });
    await first.server.channels.setDefaults(first.agent.id, ['slack:default']);
    await first.server.policies.saveSet(first.agent.id, 'live', [
      { name: 'Held', tool: 'deploy', action: 'requires_approval' },
    ]);
    slack.hold(1); // the first send never gets an answer: the server dies with it in flight
    const held = await first.request('POST', '/policy/check', { body: { tool_name: 'deploy' } });
    await slack.waitFor('chat.postMessage', 1);
    await first.server.close();

    const second = await startTestServer(
      { channels, dataDir: first.dataDir, databaseUrl: first.databaseUrl },
      {},
    );
    cleanups.push(() => second.close());
    await until(
      async () =>
        (await second.server.store.channels.messagesOf(held.json.action_id))[0]?.status ===
        'delivered',
    );
    const posts = slack.calls.filter((call) => call.method === 'chat.postMessage');
    expect(posts).toHaveLength(2); // the one lost with the dead server, and the one delivered
    expect(posts[1]?.args.channel).toBe('#ops');
    expect([...slack.messages.values()]).toHaveLength(1);
  });

  test('several workers on one store (replicas) send each message once', async () => {
    const s = await slackSetup({ channels: { pollIntervalMs: 5 } });
    cleanups.push(() => s.close());
    const { server } = s.t;
    const others = [1, 2, 3].map(
      () =>
        new ChannelWorker(
          server.store,
          server.channels,
          server.approvals,
          server.events,
          server.logger,
          server.clock,
          {},
        ),
    );
    for (const worker of others) worker.start();
    cleanups.push(async () => {
      for (const worker of others) await worker.stop();
    });
    await server.channels.setDefaults(s.t.agent.id, ['slack:#a', 'slack:#b']);
    await server.policies.saveSet(s.t.agent.id, 'live', [
      { name: 'Held', tool: 'deploy', action: 'requires_approval' },
    ]);
    for (let index = 0; index < 6; index++) {
      await s.t.request('POST', '/policy/check', { body: { tool_name: 'deploy' } });
    }
    await s.slack.waitFor('chat.postMessage', 12);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const posts = s.slack.calls.filter((call) => call.method === 'chat.postMessage');
    expect(posts).toHaveLength(12);
    expect(new Set(posts.map((post) => JSON.stringify(post.args))).size).toBe(12);
  });
});
