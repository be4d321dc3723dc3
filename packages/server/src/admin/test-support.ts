import type { ServerConfig } from '../config';
import type { UserRole } from '../store';
import { startTestServer, type TestResponse, type TestServer } from '../test-fixtures/harness';
import { requestInProcess } from '../test-fixtures/in-process';
import { UserAdministration } from '../users/service';
import type { AdminOptions } from './mount';

/** A test server with one user and one admin token per role. */
export interface AdminTestServer extends TestServer {
  tokens: Record<UserRole, string>;
  emails: Record<UserRole, string>;
  password: string;
  /** Calls the admin API; `as` picks the role's token (default admin), `null` sends none. */
  admin(
    method: string,
    path: string,
    options?: {
      as?: UserRole | null;
      body?: unknown;
      cookie?: string;
      headers?: Record<string, string>;
    },
  ): Promise<TestResponse>;
  /** Logs in with a password and returns the session cookie (`arden_session=…`). */
  login(role: UserRole): Promise<string>;
}

/** The shared password of the test users. */
export const testPassword = 'correct horse battery staple';

/**
 * Starts a server for admin tests: users admin@, approver@, viewer@example.com and tokens. With
 * `listen: false` it opens no port and requests are handled in this process.
 */
export async function startAdminTestServer(
  config: ServerConfig & { admin?: AdminOptions } = {},
  options: { listen?: boolean } = {},
): Promise<AdminTestServer> {
  const listening = options.listen !== false;
  const base = await startTestServer(config as ServerConfig, { listen: listening });
  const users = new UserAdministration(base.server.store, Date.now, {
    insecureTestPasswordHashing: true,
  });
  const tokens = {} as Record<UserRole, string>;
  const emails = {} as Record<UserRole, string>;
  for (const role of ['admin', 'approver', 'viewer'] as const) {
    const email = `${role}@example.com`;
    const existing = await base.server.store.users.getByEmail(email);
    const user = existing ?? (await users.createUser({ email, role, password: testPassword })).user;
    tokens[role] = (await users.createToken(user.id, `${role} test token`)).token;
    emails[role] = email;
  }
  const admin: AdminTestServer['admin'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    const as = options.as === undefined ? 'admin' : options.as;
    if (as !== null && options.cookie === undefined) headers.authorization = `Bearer ${tokens[as]}`;
    if (options.cookie !== undefined) headers.cookie = options.cookie;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = listening
      ? await fetch(base.url + path, { method, headers, body })
      : await requestInProcess(base.server, method, path, { headers, body });
    const text = response instanceof Response ? await response.text() : response.text;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  };
  // The base's properties as they are (its `url` is a getter that throws without a port).
  return Object.assign(Object.defineProperties({}, Object.getOwnPropertyDescriptors(base)), {
    tokens,
    emails,
    password: testPassword,
    admin,
    async login(role: UserRole) {
      const response = await admin('POST', '/api/v1/auth/login', {
        as: null,
        body: { email: emails[role], password: testPassword },
      });
      if (response.status !== 200) throw new Error(`login failed: ${response.text}`);
      const cookie = response.headers.get('set-cookie') ?? '';
      return cookie.split(';')[0] as string;
    },
  }) as AdminTestServer;
}
