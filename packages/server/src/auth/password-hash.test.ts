import { describe, expect, it } from 'vitest';
import { startAdminTestServer } from '../admin/test-support';
import {
  hashPassword,
  insecureTestPasswordHashCost,
  passwordHashCost,
  passwordHashCostOf,
  passwordNeedsRehash,
  verifyPassword,
} from '../crypto';
import { UserAdministration } from '../users/service';
import { resolveAdminOptions } from './options';

const password = 'correct horse battery staple';

describe('password hashes', () => {
  it('are made at OWASP’s minimum scrypt cost (N = 2^17, r = 8, p = 1) and record it', async () => {
    expect(passwordHashCost).toEqual({ N: 131_072, r: 8, p: 1 });
    const hash = await hashPassword(password);
    expect(hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(passwordHashCostOf(hash)).toEqual({ N: 131_072, r: 8, p: 1 });
    expect(await verifyPassword(password, hash)).toBe(true);
    expect(await verifyPassword('wrong password', hash)).toBe(false);
    expect(passwordNeedsRehash(hash)).toBe(false);
  });

  it('older or test-cost hashes are marked for an upgrade; absurd recorded costs are refused', async () => {
    const old = await hashPassword(password, { N: 16_384, r: 8, p: 1 });
    expect(await verifyPassword(password, old)).toBe(true);
    expect(passwordNeedsRehash(old)).toBe(true);
    expect(passwordNeedsRehash(await hashPassword(password, insecureTestPasswordHashCost))).toBe(
      true,
    );
    const salt = Buffer.alloc(16).toString('base64');
    expect(await verifyPassword(password, `scrypt$${2 ** 24}$8$1$${salt}$AAAA`)).toBe(false);
    expect(await verifyPassword(password, `scrypt$1000$8$1$${salt}$AAAA`)).toBe(false);
  });

  it('the test cost is only an option code passes, never read from the environment', () => {
    const everything = {
      ARDEN_INSECURE_TEST_PASSWORD_HASHING: '1',
      ARDEN_TEST_PASSWORD_HASHING: '1',
      NODE_ENV: 'test',
      VITEST: 'true',
    };
    expect(resolveAdminOptions({}, everything).insecureTestPasswordHashing).toBe(false);
    expect(
      resolveAdminOptions({ insecureTestPasswordHashing: true }, {}).insecureTestPasswordHashing,
    ).toBe(true);
  });

  it('a hash made at a lower cost is upgraded at the next successful login, and logins keep working', async () => {
    // A server at the production cost, with a user whose hash is from before N = 2^17.
    const server = await startAdminTestServer({ admin: { insecureTestPasswordHashing: false } });
    try {
      const email = 'old-hash@example.com';
      await new UserAdministration(server.server.store, Date.now, {
        insecureTestPasswordHashing: true,
      }).createUser({ email, role: 'viewer', password });
      const oldHash = (await server.server.store.users.getByEmail(email))?.passwordHash as string;
      await server.server.store.users.update(
        (await server.server.store.users.getByEmail(email))?.id as string,
        { passwordHash: await hashPassword(password, { N: 16_384, r: 8, p: 1 }) },
        Date.now(),
      );
      expect(oldHash).toMatch(/^scrypt\$1024\$/);

      const wrong = await server.admin('POST', '/api/v1/auth/login', {
        as: null,
        body: { email, password: 'not the password' },
      });
      expect(wrong.status).toBe(401);
      expect((await server.server.store.users.getByEmail(email))?.passwordHash).toMatch(
        /^scrypt\$16384\$/,
      );

      for (let attempt = 0; attempt < 2; attempt++) {
        const login = await server.admin('POST', '/api/v1/auth/login', {
          as: null,
          body: { email, password },
        });
        expect(login.status).toBe(200);
        const upgraded = (await server.server.store.users.getByEmail(email))
          ?.passwordHash as string;
        expect(passwordHashCostOf(upgraded)).toEqual({ N: 131_072, r: 8, p: 1 });
        expect(await verifyPassword(password, upgraded)).toBe(true);
      }
    } finally {
      await server.close();
    }
  });
});
