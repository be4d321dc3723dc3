import { afterEach, describe, expect, test } from 'vitest';
import { startAdminTestServer } from '../admin/test-support';
import { confirmLink, decoded, linksOf, startSmtp } from './smtp-support';
import { secretsKey, testClock, until } from './test-support';

// Email digests: an email channel with `digest_minutes` sends one email per recipient every N
// minutes (at multiples of N) with the calls held since the last one and still waiting, each
// with its own signed single-use link. The real SMTP server runs in process; the clock is moved.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}, 60_000);

const minute = 60_000;

describe('email digests', { timeout: 120_000 }, () => {
  test('one email every N minutes with the calls still waiting, each with its own single-use link', async () => {
    // 10:02 UTC: the next 15-minute digest is at 10:15.
    const clock = testClock(Date.UTC(2026, 11, 6, 10, 2, 0));
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    const t = await startAdminTestServer({
      clock: clock.now,
      channels: { secretsKey, pollIntervalMs: 25 },
    });
    cleanups.push(() => t.close());
    const created = await t.admin('POST', '/api/v1/channels', {
      body: {
        name: 'mail',
        kind: 'email',
        config: {
          host: '127.0.0.1',
          port: smtp.port,
          user: 'arden',
          from: 'arden@example.com',
          digest_minutes: 15,
        },
        secrets: { password: 'smtp-password-1' },
      },
    });
    expect(created.status).toBe(201);
    expect(created.json.config.digest_minutes).toBe(15);
    await t.server.policies.saveSet(t.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'payments.refund',
        action: 'requires_approval',
        timeout: 3_600,
        notify: ['email:approver@example.com'],
      } as never,
    ]);
    const hold = async (amount: number) => {
      const held = await t.request('POST', '/policy/check', {
        body: { tool_name: 'payments.refund', kwargs: { amount } },
      });
      expect(held.json.decision).toBe('requires_approval');
      return held.json.action_id as string;
    };
    const first = await hold(101);
    clock.advance(3 * minute);
    const second = await hold(202);
    const decidedFirst = await hold(303);
    for (const id of [first, second, decidedFirst]) {
      await until(async () => (await t.server.store.channels.messagesOf(id)).length === 1);
    }
    // Decided in the dashboard before the digest: it is left out.
    await t.server.approvals.decide(decidedFirst, { decision: 'deny', userId: null });

    // Nothing before 10:15.
    clock.advance(9 * minute); // 10:14
    await t.server.channelWorker.round();
    expect(smtp.mails).toHaveLength(0);

    clock.advance(minute); // 10:15
    t.server.channelWorker.nudge();
    await until(() => smtp.mails.length === 1);
    const [digest] = smtp.mails;
    expect(digest?.to).toEqual(['approver@example.com']);
    const text = decoded(digest as (typeof smtp.mails)[number]);
    expect(text).toContain('Subject: Approval digest: 2 held calls waiting');
    expect(text).toContain('{"amount":101}');
    expect(text).toContain('{"amount":202}');
    expect(text).not.toContain('{"amount":303}');
    // Oldest call first, each with its own link.
    expect(text.indexOf('{"amount":101}')).toBeLessThan(text.indexOf('{"amount":202}'));
    const links = linksOf(digest as (typeof smtp.mails)[number]);
    expect(links).toHaveLength(2);
    const timeline = async (id: string) =>
      (await t.server.store.channels.messagesOf(id)).map((m) => m.status);
    // One email, two messages: each is recorded delivered in its own commit.
    await until(async () => (await timeline(first))[0] === 'delivered');
    await until(async () => (await timeline(second))[0] === 'delivered');
    expect(await timeline(decidedFirst)).toEqual(['cancelled']);

    // Each link decides its own call, once.
    expect((await confirmLink(t.url, links[0] as string, 'approve')).status).toBe(200);
    expect((await t.server.store.actions.get(first))?.status).toBe('approved');
    expect((await t.server.store.actions.get(second))?.status).toBe('pending');
    expect((await confirmLink(t.url, links[0] as string, 'deny')).status).toBe(409);
    expect((await confirmLink(t.url, links[1] as string, 'deny')).status).toBe(200);
    expect((await t.server.store.actions.get(second))?.status).toBe('denied');

    // A call held after the digest waits for the next one (10:30), on its own.
    const third = await hold(404);
    await until(async () => (await t.server.store.channels.messagesOf(third)).length === 1);
    clock.advance(14 * minute); // 10:29
    await t.server.channelWorker.round();
    expect(smtp.mails.map((mail) => /Subject: .*/.exec(decoded(mail))?.[0])).toHaveLength(1);
    clock.advance(minute); // 10:30
    t.server.channelWorker.nudge();
    await until(() => smtp.mails.length === 2);
    const next = decoded(smtp.mails[1] as (typeof smtp.mails)[number]);
    expect(next).toContain('Subject: Approval digest: 1 held call waiting');
    expect(next).toContain('{"amount":404}');
    expect(next).not.toContain('{"amount":202}');
  });
});
