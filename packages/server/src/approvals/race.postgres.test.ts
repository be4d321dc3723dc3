// Two-person approval on two replicas sharing one PostgreSQL schema: votes cast at the same
// moment on different replicas are counted in turn (the action row is locked for the vote), so
// every race gives exactly one outcome and no vote is lost.
import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { UserAdministration } from '../users/service';

const servers: AdminTestServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

async function twoReplicas() {
  const a = await startAdminTestServer({ workers: false }, { listen: false });
  servers.push(a);
  const b = await startAdminTestServer(
    { workers: false, databaseUrl: a.databaseUrl },
    { listen: false },
  );
  servers.push(b);
  await a.server.policies.saveSet(a.agent.id, 'live', [
    { name: 'Payouts', tool: 'payout', action: 'requires_approval', approvals: 2 },
  ]);
  const users = new UserAdministration(a.server.store, Date.now, {
    insecureTestPasswordHashing: true,
  });
  const tokens: Record<string, string> = {};
  for (const name of ['ann', 'bob', 'cat']) {
    const { user } = await users.createUser({
      email: `${name}@example.com`,
      role: 'approver',
      password: 'correct horse battery staple',
    });
    tokens[name] = (await users.createToken(user.id, 'test')).token;
  }
  const vote = (replica: AdminTestServer, who: string, id: string, verb: 'approve' | 'deny') =>
    replica.admin('POST', `/api/v1/approvals/${id}/${verb}`, {
      as: null,
      body: {},
      headers: { authorization: `Bearer ${tokens[who]}` },
    });
  const hold = async () => {
    const response = await a.request('POST', '/policy/check', {
      body: { tool_name: 'payout', kwargs: { amount: 1 } },
    });
    expect(response.json.status).toBe('pending');
    return response.json.action_id as string;
  };
  return { a, b, vote, hold };
}

describe('two-person approval across replicas (PostgreSQL)', () => {
  test('two first approvals at once on two replicas are both counted: approved', async () => {
    const { a, b, vote, hold } = await twoReplicas();
    for (let round = 0; round < 10; round++) {
      const id = await hold();
      const [one, two] = await Promise.all([
        vote(a, 'ann', id, 'approve'),
        vote(b, 'bob', id, 'approve'),
      ]);
      expect([one.status, two.status]).toEqual([200, 200]);
      expect([one.json.status, two.json.status].sort()).toEqual(['approved', 'pending']);
      const action = await b.admin('GET', `/api/v1/actions/${id}`);
      expect(action.json.status).toBe('approved');
      expect(action.json.approval.votes).toHaveLength(2);
    }
  });

  test('the last approval and a denial racing on two replicas: exactly one outcome', async () => {
    const { a, b, vote, hold } = await twoReplicas();
    for (let round = 0; round < 10; round++) {
      const id = await hold();
      expect((await vote(a, 'ann', id, 'approve')).json.status).toBe('pending');
      const answers = await Promise.all([
        vote(a, 'bob', id, 'approve'),
        vote(b, 'cat', id, 'deny'),
      ]);
      const won = answers.filter((answer) => answer.status === 200);
      const lost = answers.filter((answer) => answer.status === 409);
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      const final = await a.admin('GET', `/api/v1/actions/${id}`);
      expect(final.json.status).toBe(won[0]?.json.status);
      expect(['approved', 'denied']).toContain(final.json.status);
      // Only the winning vote was recorded with ann's.
      expect(final.json.approval.votes).toHaveLength(2);
      expect(final.json.approval.decided_by_user).toBe(
        final.json.status === 'approved' ? 'bob@example.com' : 'cat@example.com',
      );
      // One webhook-worthy decision: the agent reads the same on both replicas.
      const [onA, onB] = await Promise.all([
        a.request('GET', `/status/${id}`),
        b.request('GET', `/status/${id}`),
      ]);
      expect(onA.json.status).toBe(final.json.status);
      expect(onB.json.status).toBe(final.json.status);
    }
  });

  test('the same approver on both replicas at once counts once', async () => {
    const { a, b, vote, hold } = await twoReplicas();
    const id = await hold();
    const answers = await Promise.all([
      vote(a, 'ann', id, 'approve'),
      vote(b, 'ann', id, 'approve'),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const action = await a.admin('GET', `/api/v1/actions/${id}`);
    expect(action.json.status).toBe('pending');
    expect(action.json.approval.votes).toHaveLength(1);
  });
});
