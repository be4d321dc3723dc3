import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { hashPassword } from '../crypto';

// Logins sent at once, with the real scrypt cost (N = 2^17): the limiter counts an attempt before
// its password is checked, and at most a few checks run or wait at a time.
describe('concurrent logins, at the real password cost', () => {
  let t: AdminTestServer;
  beforeAll(async () => {
    t = await startAdminTestServer({
      admin: { insecureTestPasswordHashing: false, trustProxy: true, trustedProxyHops: 1 },
    });
    const admin = await t.server.store.users.getByEmail(t.emails.admin);
    await t.server.store.users.update(
      admin?.id as string,
      { passwordHash: await hashPassword(t.password) },
      Date.now(),
    );
  }, 30_000);
  afterAll(async () => {
    await t?.close();
  });

  const login = (email: string, password: string, address: string) =>
    t.admin('POST', '/api/v1/auth/login', {
      as: null,
      body: { email, password },
      headers: { 'x-forwarded-for': address },
    });

  it('20 wrong passwords sent at once from one address get the allowance of 5 guesses, no more', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) => login(t.emails.admin, `wrong${index}`, '6.6.6.6')),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(15);
    for (const answer of answers.filter((each) => each.status === 429)) {
      expect(answer.json).toMatchObject({ error: expect.stringMatching(/try again in \d+ s/) });
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // The admin, from another address, still logs in.
    expect((await login(t.emails.admin, t.password, '1.2.3.4')).status).toBe(200);
  }, 30_000);

  it('an IPv6 client counts per /64: rotating the address within it does not reset the allowance', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 7; index++) {
      statuses.push((await login(t.emails.approver, 'wrong', `2001:db8:5:6::${index + 1}`)).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toContain(429);
  }, 30_000);

  it('a flood of logins queues a bounded number of checks, answers the rest 429 at once, and agents are served meanwhile', async () => {
    const flood = Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        login(`nobody${index}@example.com`, 'guess', `7.7.7.${index}`),
      ),
    );
    const started = performance.now();
    const check = await t.request('POST', '/policy/check', {
      body: { tool_name: 'file.read', args: [], kwargs: {} },
    });
    const checkMs = performance.now() - started;
    const answers = await flood;
    expect(check.status).toBe(200);
    expect(checkMs).toBeLessThan(1_000);
    const statuses = answers.map((answer) => answer.status);
    // 2 checks at a time and 8 waiting: at most 10 passwords were checked (each one a 401)…
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
    // …and the others were told at once that the server is busy.
    const busy = answers.filter((answer) => answer.status === 429);
    expect(busy.length).toBeGreaterThanOrEqual(30);
    expect(busy[0]?.json).toMatchObject({ error: expect.stringMatching(/too many passwords/) });
    expect(busy[0]?.headers.get('retry-after')).toBe('1');
    expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
    // The rejected ones were not counted as failures: the same address may try again.
    const retried = answers.findIndex((answer) => answer.status === 429);
    expect((await login(`nobody${retried}@example.com`, 'guess', `7.7.7.${retried}`)).status).toBe(
      401,
    );
  }, 60_000);

  it('a wrong password for an account with an old, cheaper hash takes as long as for an unknown email', async () => {
    // The viewer's hash was made at the test cost (N = 2^10), 128 times cheaper than the current.
    const viewer = await t.server.store.users.getByEmail(t.emails.viewer);
    expect(viewer?.passwordHash?.startsWith('scrypt$1024$')).toBe(true);
    const timeOf = async (email: string, index: number) => {
      const started = performance.now();
      const answer = await login(email, 'wrong password', `8.8.${index}.1`);
      expect(answer.status).toBe(401);
      return performance.now() - started;
    };
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[2] as number;
    const old: number[] = [];
    const unknown: number[] = [];
    for (let index = 0; index < 5; index++) {
      old.push(await timeOf(t.emails.viewer, index));
      unknown.push(await timeOf('nobody-at-all@example.com', index + 10));
    }
    // Without padding the old hash answered about 70 times faster (ratio 0.014); with it, about
    // as long (an eighth longer at N = 2^14). 0.5 leaves room for a loaded machine.
    expect(median(old) / median(unknown)).toBeGreaterThan(0.5);
  }, 60_000);
});
