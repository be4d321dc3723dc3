import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { clientAddress } from '../http/client-address';
import { resolveAdminOptions } from './options';
import { LoginLimiter, RequestRateLimiter } from './rate-limit';

function requestFrom(peer: string, forwardedFor?: string | string[]): IncomingMessage {
  return {
    socket: { remoteAddress: peer },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

describe('the client address', () => {
  it('is the TCP peer unless proxies are trusted (default 0 hops: X-Forwarded-For ignored)', () => {
    expect(resolveAdminOptions({}, {}).trustedProxyHops).toBe(0);
    expect(clientAddress(requestFrom('10.0.0.5', '6.6.6.6'), 0)).toBe('10.0.0.5');
  });

  it('is the entry the configured number of hops from the right, never the client-written left', () => {
    // nginx appends the address it saw: "<whatever the client sent>, <real client>".
    const spoofed = requestFrom('10.0.0.5', '6.6.6.6, 1.2.3.4');
    expect(clientAddress(spoofed, 1)).toBe('1.2.3.4');
    // Two proxies: client, first proxy's peer … "<spoof>, <client>, <proxy 1>".
    expect(clientAddress(requestFrom('10.0.0.9', '6.6.6.6, 1.2.3.4, 10.0.0.5'), 2)).toBe('1.2.3.4');
    expect(clientAddress(requestFrom('10.0.0.9', ['6.6.6.6', '1.2.3.4, 10.0.0.5']), 2)).toBe(
      '1.2.3.4',
    );
    expect(clientAddress(requestFrom('10.0.0.5', '1.2.3.4'), 3)).toBe('1.2.3.4');
    expect(clientAddress(requestFrom('10.0.0.5'), 1)).toBe('10.0.0.5');
  });

  it('ARDEN_TRUSTED_PROXY_HOPS sets the hops; ARDEN_TRUST_PROXY alone means one proxy', () => {
    expect(resolveAdminOptions({}, { ARDEN_TRUSTED_PROXY_HOPS: '2' }).trustedProxyHops).toBe(2);
    expect(resolveAdminOptions({}, { ARDEN_TRUST_PROXY: '1' }).trustedProxyHops).toBe(1);
    expect(() => resolveAdminOptions({}, { ARDEN_TRUSTED_PROXY_HOPS: 'many' })).toThrow(
      /ARDEN_TRUSTED_PROXY_HOPS/,
    );
  });
});

describe('the login limiter', () => {
  const limits = {
    perAccountAndAddress: 5,
    perAddress: 30,
    perAccount: 50,
    maxDelayMs: 900_000,
    forgetAfterMs: 900_000,
  };
  const waitOf = (limiter: LoginLimiter, account: string, address: string, now: number) => {
    try {
      limiter.check(account, address, now);
      return 0;
    } catch (error) {
      return (error as { retryAfterSeconds: number }).retryAfterSeconds;
    }
  };

  it('delays a pair after its allowance, doubling from 1 s up to the maximum', () => {
    const limiter = new LoginLimiter(limits);
    let now = 1_000_000;
    const waits: number[] = [];
    for (let failure = 1; failure <= 16; failure++) {
      const wait = waitOf(limiter, 'admin@example.com', '6.6.6.6', now);
      now += wait * 1000;
      limiter.fail('admin@example.com', '6.6.6.6', now);
      waits.push(waitOf(limiter, 'admin@example.com', '6.6.6.6', now));
    }
    expect(waits).toEqual([0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]);
    // Forgotten a window after the last wait ended.
    expect(waitOf(limiter, 'admin@example.com', '6.6.6.6', now + 900_000 + 900_000)).toBe(0);
  });

  it('counts attempts under way: concurrent guesses get the allowance, no more', () => {
    const limiter = new LoginLimiter(limits);
    const now = 1_000_000;
    const account = 'admin@example.com';
    for (let guess = 0; guess < 5; guess++) limiter.begin(account, '6.6.6.6', now);
    expect(() => limiter.begin(account, '6.6.6.6', now)).toThrow(/try again in 1 s/);
    // An abandoned attempt (the server was busy) gives its place back.
    limiter.settle(account, '6.6.6.6', 'abandoned', now);
    limiter.begin(account, '6.6.6.6', now);
    for (let guess = 0; guess < 5; guess++) limiter.settle(account, '6.6.6.6', 'failed', now);
    // As one after another: the sixth guess may go, and its failure starts the wait.
    limiter.begin(account, '6.6.6.6', now);
    expect(() => limiter.begin(account, '6.6.6.6', now)).toThrow(/try again in 1 s/);
    limiter.settle(account, '6.6.6.6', 'failed', now);
    expect(waitOf(limiter, account, '6.6.6.6', now)).toBe(1);
    // Another address is not affected.
    limiter.begin(account, '1.2.3.4', now);
    limiter.settle(account, '1.2.3.4', 'succeeded', now);
  });

  it('a distributed guess is slowed: past the account ceiling each address gets one free failure', () => {
    const limiter = new LoginLimiter(limits);
    const now = 1_000_000;
    limiter.succeed('admin@example.com', '1.2.3.4', now);
    for (let bot = 0; bot < 60; bot++) limiter.fail('admin@example.com', `7.7.${bot}.1`, now);
    // Bots that already failed: another failure starts their wait at once.
    limiter.fail('admin@example.com', '7.7.59.1', now);
    expect(waitOf(limiter, 'admin@example.com', '7.7.59.1', now)).toBe(1);
    // A new address still gets its first try; the admin's usual address keeps its allowance.
    expect(waitOf(limiter, 'admin@example.com', '8.8.8.8', now)).toBe(0);
    for (let typo = 0; typo < 4; typo++) limiter.fail('admin@example.com', '1.2.3.4', now);
    expect(waitOf(limiter, 'admin@example.com', '1.2.3.4', now)).toBe(0);
  });
});

describe('login limits over HTTP, behind one trusted proxy', () => {
  let t: AdminTestServer;
  let now = Date.UTC(2026, 11, 1);
  beforeAll(async () => {
    t = await startAdminTestServer({
      clock: () => now,
      admin: { trustProxy: true, trustedProxyHops: 1 },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const login = (email: string, password: string, forwardedFor: string) =>
    t.admin('POST', '/api/v1/auth/login', {
      as: null,
      body: { email, password },
      headers: { 'x-forwarded-for': forwardedFor },
    });

  it('an attacker failing on the admin account does not lock the real admin out', async () => {
    const waits: string[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      const response = await login(t.emails.admin, 'guess', '6.6.6.6');
      expect([401, 429]).toContain(response.status);
      if (response.status === 429) {
        waits.push(response.headers.get('retry-after') as string);
        expect(response.json.error).toMatch(/Too many failed logins from your address/);
        now += Number(response.headers.get('retry-after')) * 1000;
      }
    }
    // Refused for a while after the allowance, with waits that grow.
    expect(waits.length).toBeGreaterThan(0);
    expect(Number(waits.at(-1))).toBeGreaterThan(Number(waits[0]));
    expect((await login(t.emails.admin, 'guess', '6.6.6.6')).status).toBe(429);
    // The admin, from their own address, logs in at once.
    const admin = await login(t.emails.admin, t.password, '1.2.3.4');
    expect(admin.status).toBe(200);
  });

  it('rotating the client-written left of X-Forwarded-For does not escape the limit', async () => {
    now += 3_600_000;
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 40; attempt++) {
      // A different account each time, and a different spoofed "client" each time.
      const response = await login(
        `nobody${attempt}@example.com`,
        'guess',
        `203.0.113.${attempt}, 5.5.5.5`,
      );
      statuses.push(response.status);
    }
    expect(statuses.slice(0, 30).every((status) => status === 401)).toBe(true);
    expect(statuses.slice(30)).toContain(429);
    // The address is 5.5.5.5, the entry the proxy appended: others are not affected.
    expect((await login(t.emails.viewer, t.password, '9.9.9.9')).status).toBe(200);
  });
});

describe('requests per key (token bucket)', () => {
  it('lets a burst of twice the rate through, then says how long to wait', () => {
    const limiter = new RequestRateLimiter(5);
    const waits = Array.from({ length: 11 }, () => limiter.take('key-a', 1_000));
    expect(waits.slice(0, 10)).toEqual(Array(10).fill(0));
    expect(waits[10]).toBe(1);
    // Another key has its own bucket.
    expect(limiter.take('key-b', 1_000)).toBe(0);
  });

  it('refills at the rate: a request a fifth of a second later goes through at 5 per second', () => {
    const limiter = new RequestRateLimiter(5);
    for (let index = 0; index < 10; index++) limiter.take('key', 0);
    expect(limiter.take('key', 100)).toBeGreaterThan(0);
    expect(limiter.take('key', 300)).toBe(0);
    expect(limiter.take('key', 300)).toBeGreaterThan(0);
  });

  it('waits whole seconds rounded up at low rates', () => {
    const limiter = new RequestRateLimiter(0.25);
    expect(limiter.take('key', 0)).toBe(0);
    expect(limiter.take('key', 0)).toBe(4);
  });
});
