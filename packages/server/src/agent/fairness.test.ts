// One evaluation never stalls other requests (issue #12, item 2): while checks at the body
// limit with the worst known condition are in flight, an agent's ordinary checks are answered
// between them, not after all of them. Ordering, not timing: the machine is shared.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

let t: AdminTestServer;

beforeAll(async () => {
  // The adversarial checks fill the byte limit with 44 500 integers: more values than the
  // default ARDEN_CHECK_VALUE_LIMIT allows, raised here so that each evaluation is as long as
  // the byte limit alone would let it be (a harder case for fairness than the defaults allow).
  t = await startAdminTestServer({ workers: false, checkValueLimit: 50_000 });
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Email',
      tool: 'send_email',
      rules: [{ if: 'args.to.exists(r, args.to.exists(s, r == s + 1000000))', then: 'allow' }],
      default: 'block',
    },
    { name: 'Search', tool: 'search', action: 'allow' },
  ]);
});

afterAll(async () => {
  await t.close();
});

test('an agent making ordinary checks is answered between the adversarial checks of another', async () => {
  // Integers up to the check body limit (256 KiB): the nested exists is n² comparisons, stopped
  // by the evaluation budget.
  const to = Array.from({ length: 44_500 }, (_, index) => index);
  const slowBody = JSON.stringify({ tool_name: 'send_email', kwargs: { to } });
  expect(slowBody.length).toBeLessThanOrEqual(t.server.config.checkBodyLimit);
  expect(slowBody.length).toBeGreaterThan(0.9 * t.server.config.checkBodyLimit);
  const order: string[] = [];
  let slowDone = false;
  // One agent sends adversarial checks one after another…
  const slow = (async () => {
    const answers: Record<string, unknown>[] = [];
    for (let index = 0; index < 5; index++) {
      const response = await t.request('POST', '/policy/check', {
        raw: slowBody,
        headers: { 'content-type': 'application/json' },
      });
      answers.push(response.json as Record<string, unknown>);
      order.push('slow');
    }
    slowDone = true;
    return answers;
  })();
  // …while another makes ordinary ones, one after another, until the first is done.
  const fast: Record<string, unknown>[] = [];
  while (!slowDone) {
    const response = await t.request('POST', '/policy/check', { body: { tool_name: 'search' } });
    fast.push(response.json as Record<string, unknown>);
    order.push('fast');
  }
  for (const answer of await slow) {
    expect(answer).toMatchObject({ decision: 'block', reason: 'condition_error' });
  }
  expect(fast.every((answer) => answer.decision === 'allow')).toBe(true);
  // Between any two adversarial answers, the ordinary agent was answered: it never waited for
  // the other agent's checks to be done one after another.
  const between = order
    .join(' ')
    .split('slow')
    .slice(1, -1)
    .map((run) => run.trim().split(' ').filter(Boolean).length);
  expect(between, order.join(' ')).toHaveLength(4);
  expect(Math.min(...between), order.join(' ')).toBeGreaterThan(0);
});
