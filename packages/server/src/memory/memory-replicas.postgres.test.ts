// Counts are exact across replicas (issue #17): two servers on one PostgreSQL check the 3rd and
// 4th refund of a session at the same instant, many times over; the limit holds every time.
import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

describe('memory inputs on replicas (PostgreSQL)', () => {
  test('"at most 3 refunds per session": concurrent checks on two replicas never both pass', async () => {
    const a = await startAdminTestServer({ workers: false }, { listen: false });
    servers.push(a);
    expect(a.databaseUrl).toBeDefined();
    const b = await startAdminTestServer(
      { workers: false, databaseUrl: a.databaseUrl },
      { listen: false },
    );
    servers.push(b);
    await a.server.policies.saveSet(a.agent.id, 'live', [
      {
        name: 'Refunds',
        tool: 'stripe.issue_refund',
        rules: [{ if: 'session.calls("stripe.issue_refund", "allowed") >= 3', then: 'block' }],
        default: 'allow',
      },
    ]);
    const check = (t: AdminTestServer, session: string, amount: number) =>
      t.request('POST', '/policy/check', {
        key: a.liveKey,
        body: {
          tool_name: 'stripe.issue_refund',
          kwargs: { amount },
          metadata: { session_id: session },
        },
      });
    for (let round = 0; round < 10; round++) {
      const session = `race-${round}`;
      // Two refunds first, alternating replicas.
      expect((await check(a, session, 1)).json.decision).toBe('allow');
      expect((await check(b, session, 2)).json.decision).toBe('allow');
      // The 3rd and 4th at once, one on each replica, and a 5th and 6th too.
      const answers = await Promise.all([
        check(a, session, 3),
        check(b, session, 4),
        check(a, session, 5),
        check(b, session, 6),
      ]);
      const decisions = answers.map((answer) => answer.json.decision);
      expect(decisions.filter((decision) => decision === 'allow')).toHaveLength(1);
      expect(decisions.filter((decision) => decision === 'block')).toHaveLength(3);
    }
    // What the log says agrees: exactly 3 allowed per session.
    const allowed = await a.server.store.database.all<{ session_id: string; count: string }>(
      `SELECT session_id, COUNT(*) AS count FROM actions WHERE decision = 'allow' GROUP BY session_id`,
    );
    expect(allowed).toHaveLength(10);
    for (const row of allowed) expect(Number(row.count)).toBe(3);
  });
});
