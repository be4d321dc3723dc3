import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { hashSecret } from '../crypto';
import { createLogger } from '../logger';
import { UserAdministration } from '../users/service';

const testHashing = { insecureTestPasswordHashing: true };

let t: AdminTestServer;

beforeAll(async () => {
  t = await startAdminTestServer();
});

afterAll(async () => {
  await t.close();
});

describe('login and logout', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie (not Secure over plain HTTP) and stores only its hash', async () => {
    const response = await t.admin('POST', '/api/v1/auth/login', {
      as: null,
      body: { email: 'Viewer@Example.com ', password: t.password },
    });
    expect(response.status).toBe(200);
    expect(response.json.user).toMatchObject({ email: 'viewer@example.com', role: 'viewer' });
    expect(response.json.user).not.toHaveProperty('password_hash');
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^arden_session=[A-Za-z0-9_-]{40,};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    expect(cookie).toMatch(/Max-Age=\d+/);
    expect(cookie).not.toContain('Secure');
    const sessionId = (cookie.split(';')[0] as string).split('=')[1] as string;
    const rows = await t.server.store.database.all<{ id_hash: string }>(
      'SELECT id_hash FROM user_sessions',
    );
    expect(rows.map((row) => row.id_hash)).toContain(hashSecret(sessionId));
    expect(JSON.stringify(rows)).not.toContain(sessionId);

    const me = await t.admin('GET', '/api/v1/me', { cookie: cookie.split(';')[0] as string });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({
      user: { email: 'viewer@example.com' },
      authenticated_by: 'session',
      permissions: { decide: false, administer: false },
    });
  });

  it('logout ends the session and clears the cookie', async () => {
    const cookie = await t.login('approver');
    expect((await t.admin('GET', '/api/v1/me', { cookie })).status).toBe(200);
    const logout = await t.admin('POST', '/api/v1/auth/logout', { cookie });
    expect(logout.status).toBe(200);
    expect(logout.headers.get('set-cookie')).toMatch(/^arden_session=; .*Max-Age=0/);
    const after = await t.admin('GET', '/api/v1/me', { cookie });
    expect(after.status).toBe(401);
    expect(after.json.error).toMatch(/log in again/);
    // A stale cookie does not stop a new login.
    const again = await t.admin('POST', '/api/v1/auth/login', {
      cookie,
      body: { email: t.emails.approver, password: t.password },
    });
    expect(again.status).toBe(200);
  });

  it('gives one answer for a wrong password, an unknown email and a disabled user', async () => {
    const wrong = await t.admin('POST', '/api/v1/auth/login', {
      as: null,
      body: { email: t.emails.admin, password: 'not the password' },
    });
    const unknown = await t.admin('POST', '/api/v1/auth/login', {
      as: null,
      body: { email: 'nobody@example.com', password: 'not the password' },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json.error).toBe(unknown.json.error);
  });

  it('marks the cookie Secure behind an HTTPS proxy when the proxy is trusted', async () => {
    const behindProxy = await startAdminTestServer({ admin: { trustProxy: true } });
    try {
      const response = await behindProxy.admin('POST', '/api/v1/auth/login', {
        as: null,
        headers: { 'x-forwarded-proto': 'https' },
        body: { email: behindProxy.emails.admin, password: behindProxy.password },
      });
      expect(response.headers.get('set-cookie')).toContain('; Secure');
    } finally {
      await behindProxy.close();
    }
    // An untrusted X-Forwarded-Proto changes nothing.
    const direct = await t.admin('POST', '/api/v1/auth/login', {
      as: null,
      headers: { 'x-forwarded-proto': 'https' },
      body: { email: t.emails.admin, password: t.password },
    });
    expect(direct.headers.get('set-cookie')).not.toContain('Secure');
  });

  it('delays an address after five failed logins for an email (429 with Retry-After)', async () => {
    const email = 'limited@example.com';
    await new UserAdministration(t.server.store, Date.now, testHashing).createUser({
      email,
      role: 'viewer',
      password: t.password,
    });
    for (let attempt = 0; attempt < 6; attempt++) {
      const response = await t.admin('POST', '/api/v1/auth/login', {
        as: null,
        body: { email, password: 'wrong password' },
      });
      expect(response.status).toBe(401);
    }
    const limited = await t.admin('POST', '/api/v1/auth/login', {
      as: null,
      body: { email, password: t.password },
    });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.json.error).toMatch(/Too many failed logins/);
  });

  it('changes a password: the old one stops working, the current session stays', async () => {
    const email = 'changer@example.com';
    await new UserAdministration(t.server.store, Date.now, testHashing).createUser({
      email,
      role: 'viewer',
      password: t.password,
    });
    const login = await t.admin('POST', '/api/v1/auth/login', {
      as: null,
      body: { email, password: t.password },
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const short = await t.admin('POST', '/api/v1/me/password', {
      cookie,
      body: { current_password: t.password, new_password: 'short' },
    });
    expect(short.status).toBe(400);
    expect(short.json.field).toBe('new_password');
    const changed = await t.admin('POST', '/api/v1/me/password', {
      cookie,
      body: { current_password: t.password, new_password: 'a much better passphrase' },
    });
    expect(changed.status).toBe(200);
    expect((await t.admin('GET', '/api/v1/me', { cookie })).status).toBe(200);
    const old = await t.admin('POST', '/api/v1/auth/login', {
      as: null,
      body: { email, password: t.password },
    });
    expect(old.status).toBe(401);
  });
});

describe('session lifetime', () => {
  it('lapses after the idle time, slides while used, and ends at the maximum age', async () => {
    let now = Date.now();
    const timed = await startAdminTestServer({
      clock: () => now,
      admin: { sessionTtlSeconds: 600, sessionMaxAgeSeconds: 1_800 },
    });
    try {
      const cookie = await timed.login('viewer');
      // Used every 5 minutes: the idle lifetime slides forward.
      for (let step = 0; step < 5; step++) {
        now += 300_000;
        expect((await timed.admin('GET', '/api/v1/me', { cookie })).status).toBe(200);
      }
      // Past the maximum age (30 minutes) it ends, however active.
      now += 400_000;
      const old = await timed.admin('GET', '/api/v1/me', { cookie });
      expect(old.status).toBe(401);
      const idle = await timed.login('viewer');
      now += 601_000;
      expect((await timed.admin('GET', '/api/v1/me', { cookie: idle })).status).toBe(401);
    } finally {
      await timed.close();
    }
  });
});

describe('users', () => {
  it('creates a user with a generated one-time password, shown once', async () => {
    const created = await t.admin('POST', '/api/v1/users', {
      body: { email: 'new@example.com', role: 'approver' },
    });
    expect(created.status).toBe(201);
    const password = created.json.password as string;
    expect(password.length).toBeGreaterThanOrEqual(20);
    const list = await t.admin('GET', '/api/v1/users');
    expect(list.text).not.toContain(password);
    expect(list.text).not.toContain('scrypt$');
    const login = await t.admin('POST', '/api/v1/auth/login', {
      as: null,
      body: { email: 'new@example.com', password },
    });
    expect(login.status).toBe(200);
    const reset = await t.admin('POST', '/api/v1/users/new@example.com/reset-password');
    expect(reset.status).toBe(200);
    expect(reset.json.password).not.toBe(password);
    const duplicate = await t.admin('POST', '/api/v1/users', {
      body: { email: 'NEW@example.com', role: 'viewer' },
    });
    expect(duplicate.status).toBe(409);
  });

  it('creates the first admin once, with a generated password unless one is given', async () => {
    const fresh = await startAdminTestServer();
    try {
      // The harness made users already: nothing happens.
      const users = new UserAdministration(fresh.server.store, Date.now, testHashing);
      expect(await users.ensureFirstAdmin()).toEqual({
        created: false,
        email: 'admin@localhost',
      });
      await fresh.server.store.database.run('DELETE FROM admin_tokens');
      await fresh.server.store.database.run('DELETE FROM user_sessions');
      await fresh.server.store.database.run('DELETE FROM users');
      const first = await users.ensureFirstAdmin({ email: 'boss@example.com' });
      expect(first).toMatchObject({ created: true, email: 'boss@example.com' });
      expect(first.generatedPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
      const stored = await fresh.server.store.users.getByEmail('boss@example.com');
      expect(stored?.role).toBe('admin');
      expect(stored?.passwordHash).toMatch(/^scrypt\$/);
      expect(stored?.passwordHash).not.toContain(first.generatedPassword as string);
    } finally {
      await fresh.close();
    }
  });
});

describe('admin tokens', () => {
  it('shows a token once; later only its prefix; revoked tokens stop working', async () => {
    const created = await t.admin('POST', '/api/v1/tokens', {
      as: 'viewer',
      body: { name: 'laptop' },
    });
    expect(created.status).toBe(201);
    const token = created.json.token as string;
    expect(token).toMatch(/^arden_admin_[A-Za-z0-9_-]{43}$/);
    expect(created.json.admin_token.prefix).toBe(`${token.slice(0, 16)}…`);
    const list = await t.admin('GET', '/api/v1/tokens', { as: 'viewer' });
    expect(list.text).not.toContain(token);
    expect(list.json.items.map((item: { name: string }) => item.name)).toContain('laptop');
    const rows = await t.server.store.database.all('SELECT * FROM admin_tokens');
    expect(JSON.stringify(rows)).not.toContain(token);

    const own = { authorization: `Bearer ${token}` };
    expect((await fetch(`${t.url}/api/v1/me`, { headers: own })).status).toBe(200);
    // Another viewer cannot see or revoke it.
    const others = await t.admin('POST', `/api/v1/tokens/${created.json.admin_token.id}/revoke`, {
      as: 'approver',
    });
    expect(others.status).toBe(404);
    const revoked = await t.admin('POST', `/api/v1/tokens/${created.json.admin_token.id}/revoke`, {
      as: 'viewer',
    });
    expect(revoked.status).toBe(200);
    expect(revoked.json.revoked_at).not.toBeNull();
    expect((await fetch(`${t.url}/api/v1/me`, { headers: own })).status).toBe(401);
  });

  it('only admins list every user’s tokens', async () => {
    expect((await t.admin('GET', '/api/v1/tokens?all=true', { as: 'viewer' })).status).toBe(403);
    const all = await t.admin('GET', '/api/v1/tokens?all=true');
    expect(all.status).toBe(200);
    const emails = new Set(all.json.items.map((item: { user_email: string }) => item.user_email));
    expect(emails).toContain('viewer@example.com');
    expect(emails).toContain('admin@example.com');
  });
});

describe('never logs secrets', () => {
  it('keeps passwords, tokens and cookies out of the log', async () => {
    const lines: string[] = [];
    const logged = await startAdminTestServer({
      logLevel: 'debug',
      logger: createLogger('debug', (line) => lines.push(line)),
    });
    try {
      const login = await logged.admin('POST', '/api/v1/auth/login', {
        as: null,
        body: { email: logged.emails.admin, password: logged.password },
      });
      const cookie = login.headers.get('set-cookie') ?? '';
      await logged.admin('POST', '/api/v1/auth/login', {
        as: null,
        body: { email: logged.emails.admin, password: 'a wrong guess' },
      });
      const token = await logged.admin('POST', '/api/v1/tokens', { body: { name: 'x' } });
      const text = lines.join('');
      expect(text).toContain('Admin login');
      expect(text).not.toContain(logged.password);
      expect(text).not.toContain('a wrong guess');
      expect(text).not.toContain((cookie.split(';')[0] as string).split('=')[1]);
      expect(text).not.toContain(token.json.token);
      expect(text).not.toContain(logged.tokens.admin);
    } finally {
      await logged.close();
    }
  });
});
