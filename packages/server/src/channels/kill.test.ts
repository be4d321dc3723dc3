import { rmSync } from 'node:fs';
import { startFakeSlack } from '@arden/fake-slack';
import { describe, expect, test } from 'vitest';
import { openStore } from '../store';
import { kill9, startChildServer } from '../test-fixtures/child-process';
import { startTestServer } from '../test-fixtures/harness';
import { botToken, secretsKey, signingSecret, until } from './test-support';

// Delivery after a real kill -9 mid-send: the server runs as a child process, Slack (the fake)
// holds its answer to chat.postMessage, the server is killed while the call is in flight, and
// the restarted server takes the message over when the dead worker's lease runs out.

describe('channel delivery across a crash', { timeout: 120_000 }, () => {
  test('kill -9 while Slack holds the answer: the restarted server delivers the message', async () => {
    const slack = await startFakeSlack();
    const channels = {
      slackApiUrl: slack.apiUrl,
      secretsKey,
      pollIntervalMs: 50,
      // A dead worker's lease runs out soon, so the take-over is quick.
      timeoutMs: 2_000,
      leaseMs: 3_000,
    };
    // Set up (agent, key, channel, policy) in this process, then hand the data to a child.
    const setup = await startTestServer({ channels }, { keepData: true, listen: false });
    const { dataDir, databaseUrl, liveKey } = setup;
    await setup.server.channels.create({
      name: 'slack',
      kind: 'slack',
      config: { channel: '#approvals' },
      secrets: { bot_token: botToken, signing_secret: signingSecret },
    });
    await setup.server.policies.saveSet(setup.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'payments.*',
        action: 'requires_approval',
        timeout: 3_600,
        notify: ['slack:#payments-approvals'],
      } as never,
    ]);
    await setup.server.close();

    // Slack records the first call and never answers it.
    slack.hold(1);
    const config = { databaseUrl, channels };
    let { child, url } = await startChildServer(dataDir, config);
    const held = await fetch(`${url}/policy/check`, {
      method: 'POST',
      headers: { 'x-api-key': liveKey, 'content-type': 'application/json' },
      body: JSON.stringify({ tool_name: 'payments.refund', kwargs: { amount: 75 } }),
    });
    const answer = (await held.json()) as { decision: string; action_id: string };
    expect(answer.decision).toBe('requires_approval');
    const actionId = answer.action_id;
    const reader = await openStore({ dataDir, databaseUrl, migrate: false });
    try {
      // The child's send is in flight (recorded by Slack, never answered): kill -9 it.
      const [inFlight] = await slack.waitFor('chat.postMessage');
      expect(inFlight?.status).toBe(0);
      const [leased] = await reader.channels.messagesOf(actionId);
      expect(leased).toMatchObject({ job: 'notify', status: 'pending', attempts: 0 });
      expect(leased?.leaseOwner).not.toBeNull();
      await kill9(child);
      expect(slack.messages.size).toBe(0);

      // Slack answers again; the restarted server takes the message over once the lease ends.
      ({ child } = await startChildServer(dataDir, config));
      await until(
        async () => (await reader.channels.messagesOf(actionId))[0]?.status === 'delivered',
        60_000,
      );
      const [delivered] = await reader.channels.messagesOf(actionId);
      expect(delivered).toMatchObject({ job: 'notify', status: 'delivered', attempts: 1 });
      const posted = [...slack.messages.values()];
      expect(posted).toHaveLength(1);
      expect(posted[0]?.channel).toBe('#payments-approvals');
      expect(JSON.stringify(posted[0]?.blocks)).toContain(actionId);
      expect(delivered?.ref).toBe(`${posted[0]?.channel}/${posted[0]?.ts}`);
      // The killed attempt left no answer to record; the one that succeeded is on the log.
      const attempts = await reader.channels.attempts(delivered?.id as string);
      expect(attempts.map((attempt) => attempt.statusCode)).toEqual([200]);
    } finally {
      await kill9(child);
      await reader.close();
      await slack.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
