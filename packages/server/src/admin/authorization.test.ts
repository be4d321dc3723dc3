import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleAllows, roles } from '../auth/roles';
import { adminRoutes } from './routes';
import { type AdminTestServer, startAdminTestServer } from './test-support';

let t: AdminTestServer;

beforeAll(async () => {
  t = await startAdminTestServer();
});

afterAll(async () => {
  await t.close();
});

// Path parameters that name nothing, so an allowed call answers 400 or 404 and changes nothing.
function concretePath(path: string): string {
  return path
    .replace(':environment', 'test')
    .replace(':version', '1')
    .replace(/:[a-z_]+/g, 'does-not-exist');
}

async function call(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const controller = new AbortController();
  const response = await fetch(t.url + path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: controller.signal,
  });
  // The event stream never ends: read the status, then hang up.
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    controller.abort();
    return { status: response.status, text: '' };
  }
  return { status: response.status, text: await response.text() };
}

const protectedRoutes = adminRoutes.filter((route) => route.access !== 'public');

describe('the route table', () => {
  it('declares a role for every route, and only login, logout and the OpenAPI document are public', () => {
    for (const route of adminRoutes) expect(['public', ...roles]).toContain(route.access);
    expect(
      adminRoutes.filter((route) => route.access === 'public').map((route) => route.path),
    ).toEqual(['/api/v1/auth/login', '/api/v1/auth/logout', '/api/openapi.json']);
  });

  it('lets approvers decide and only admins change agents, policies and users', () => {
    const decide = adminRoutes.filter((route) => route.path.includes('/approvals/:'));
    expect(decide.map((route) => route.access)).toEqual(['approver', 'approver']);
    for (const route of adminRoutes) {
      if (route.method !== 'GET' && /\/(agents|users)|\/policies\/:environment$/.test(route.path)) {
        if (!/validate|simulate|diff/.test(route.path))
          expect(route.access, route.path).toBe('admin');
      }
    }
  });
});

describe('authorization matrix', () => {
  for (const route of protectedRoutes) {
    const path = concretePath(route.path);
    const body = route.body ? {} : undefined;

    it(`${route.method} ${route.path}: no credential → 401`, async () => {
      const response = await call(route.method, path, {}, body);
      expect(response.status).toBe(401);
      expect(JSON.parse(response.text).error).toMatch(/Log in|admin token/);
    });

    it(`${route.method} ${route.path}: agent API key → refused`, async () => {
      const attempts: Record<string, string>[] = [
        { 'x-api-key': t.liveKey },
        { authorization: `Bearer ${t.testKey}` },
      ];
      for (const headers of attempts) {
        const response = await call(route.method, path, headers, body);
        expect(response.status).toBe(403);
        expect(JSON.parse(response.text).error).toMatch(/Agent API keys cannot be used/);
      }
    });

    it(`${route.method} ${route.path}: an unknown admin token → 401`, async () => {
      const response = await call(
        route.method,
        path,
        { authorization: 'Bearer arden_admin_not-a-real-token' },
        body,
      );
      expect(response.status).toBe(401);
    });

    for (const role of roles) {
      const allowed = roleAllows(role, route.access);
      it(`${route.method} ${route.path}: ${role} → ${allowed ? 'allowed' : '403'}`, async () => {
        const response = await call(
          route.method,
          path,
          { authorization: `Bearer ${t.tokens[role]}` },
          body,
        );
        if (allowed) {
          // 409: allowed, but the server's state refuses it (receipts off without a secret).
          expect([200, 201, 400, 404, 409]).toContain(response.status);
        } else {
          expect(response.status).toBe(403);
          expect(JSON.parse(response.text).error).toContain(`needs the ${route.access} role`);
        }
      });
    }
  }

  it('covers every protected route of the table', () => {
    expect(protectedRoutes.length).toBeGreaterThan(35);
  });
});

describe('role rules that matter', () => {
  it('an approver cannot edit policies, a viewer cannot approve', async () => {
    const put = await t.admin('PUT', `/api/v1/agents/${t.agent.id}/policies/test`, {
      as: 'approver',
      body: { policies: [] },
    });
    expect(put.status).toBe(403);
    const check = await t.request('POST', '/policy/check', {
      body: { tool_name: 'anything' },
    });
    expect(check.status).toBe(200);
    const approve = await t.admin('POST', `/api/v1/approvals/${check.json.action_id}/approve`, {
      as: 'viewer',
    });
    expect(approve.status).toBe(403);
    expect(approve.json.error).toMatch(/needs the approver role/);
  });

  it('a disabled user’s token stops working at once', async () => {
    const created = await t.admin('POST', '/api/v1/users', {
      body: { email: 'temp@example.com', role: 'viewer' },
    });
    expect(created.status).toBe(201);
    const userId = created.json.user.id;
    const services = await import('../users/service');
    const token = (
      await new services.UserAdministration(t.server.store).createToken(userId, 'temp')
    ).token;
    expect(
      (await fetch(`${t.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    const disabled = await t.admin('PATCH', `/api/v1/users/${userId}`, {
      body: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    expect(disabled.json.disabled).toBe(true);
    expect(
      (await fetch(`${t.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(401);
  });

  it('refuses to demote the last admin', async () => {
    const response = await t.admin('PATCH', `/api/v1/users/${t.emails.admin}`, {
      body: { role: 'viewer' },
    });
    expect(response.status).toBe(409);
    expect(response.json.error).toMatch(/only enabled admin/);
  });
});

describe('cross-site requests', () => {
  it('refuses a cookie-authenticated change from another origin, and accepts it from its own', async () => {
    const cookie = await t.login('admin');
    const evil = await t.admin('POST', '/api/v1/agents', {
      cookie,
      headers: { origin: 'https://evil.example' },
      body: { name: 'evil-agent' },
    });
    expect(evil.status).toBe(403);
    expect(evil.json.error).toMatch(/Cross-site request refused/);
    const fetchSite = await t.admin('POST', '/api/v1/agents', {
      cookie,
      headers: { 'sec-fetch-site': 'cross-site' },
      body: { name: 'evil-agent' },
    });
    expect(fetchSite.status).toBe(403);
    const nullOrigin = await t.admin('POST', '/api/v1/agents', {
      cookie,
      headers: { origin: 'null' },
      body: { name: 'evil-agent' },
    });
    expect(nullOrigin.status).toBe(403);
    expect((await t.admin('GET', '/api/v1/agents', { as: null, cookie })).json.items).not.toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'evil-agent' })]),
    );
    const same = await t.admin('POST', '/api/v1/agents', {
      cookie,
      headers: { origin: t.url, 'sec-fetch-site': 'same-origin' },
      body: { name: 'same-origin-agent' },
    });
    expect(same.status).toBe(201);
  });

  it('refuses a cross-site login (login CSRF) but lets a bearer token through from anywhere', async () => {
    const login = await t.admin('POST', '/api/v1/auth/login', {
      as: null,
      headers: { origin: 'https://evil.example' },
      body: { email: t.emails.viewer, password: t.password },
    });
    expect(login.status).toBe(403);
    const bearer = await t.admin('POST', `/api/v1/agents/${t.agent.id}/policies/test/validate`, {
      headers: { origin: 'https://evil.example' },
      body: { policies: [] },
    });
    expect(bearer.status).toBe(200);
  });

  it('allows origins listed in trustedOrigins', async () => {
    const trusted = await startAdminTestServer({
      admin: { trustedOrigins: ['http://localhost:5173'] },
    });
    try {
      const cookie = await trusted.login('admin');
      const response = await trusted.admin('POST', '/api/v1/agents', {
        cookie,
        headers: { origin: 'http://localhost:5173' },
        body: { name: 'from-dev-server' },
      });
      expect(response.status).toBe(201);
    } finally {
      await trusted.close();
    }
  });
});
