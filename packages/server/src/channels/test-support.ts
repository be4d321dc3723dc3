import { type FakeSlack, startFakeSlack } from '@arden/fake-slack';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { ServerConfig } from '../config';
import type { ChannelOptions } from './service';

// Shared set-up of the channel suites: a fake Slack, a server with users per role, a clock the
// tests move.

export const secretsKey = 'test-secrets-key-of-at-least-32-characters';
export const signingSecret = 'slack-signing-secret-for-tests';
export const botToken = 'xoxb-test-bot-token-1234';

/** A clock the test moves. */
export function testClock(start = Date.now()) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

export async function until(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface ChannelTest {
  t: AdminTestServer;
  slack: FakeSlack;
  channelId: string;
  close(): Promise<void>;
}

/** A server with a Slack channel named `slack` pointing at a fake Slack. */
export async function slackSetup(
  config: ServerConfig & { channels?: ChannelOptions } = {},
): Promise<ChannelTest> {
  const slack = await startFakeSlack();
  const t = await startAdminTestServer({
    ...config,
    channels: { slackApiUrl: slack.apiUrl, secretsKey, pollIntervalMs: 25, ...config.channels },
  });
  const created = await t.admin('POST', '/api/v1/channels', {
    body: {
      name: 'slack',
      kind: 'slack',
      config: { channel: '#approvals' },
      secrets: { bot_token: botToken, signing_secret: signingSecret },
    },
  });
  if (created.status !== 201) throw new Error(`channel not created: ${created.text}`);
  return {
    t,
    slack,
    channelId: created.json.id,
    async close() {
      await t.close();
      await slack.close();
    },
  };
}
