import { afterEach, describe, expect, test } from 'vitest';
import { uuidv7 } from '../ids';
import { closeStores, freshStore } from '../test-fixtures/store';

afterEach(closeStores);

describe('users, browser sessions, admin tokens', () => {
  test('lookups skip expired, revoked and disabled', async () => {
    const store = await freshStore();
    const now = Date.now();
    const user = {
      id: uuidv7(),
      email: 'Ada@Example.com',
      name: 'Ada',
      passwordHash: 'scrypt$…',
      role: 'admin' as const,
      createdAt: now,
      updatedAt: now,
      lastLoginAt: null,
      disabledAt: null,
    };
    await store.users.insert(user);
    expect((await store.users.getByEmail('ada@example.COM'))?.id).toBe(user.id);
    await store.userSessions.insert({
      idHash: 'session-hash',
      userId: user.id,
      csrfToken: 'csrf',
      userAgent: null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 60_000,
    });
    expect((await store.userSessions.findActive('session-hash', now))?.user.email).toBe(
      'ada@example.com',
    );
    expect(await store.userSessions.findActive('session-hash', now + 60_000)).toBeUndefined();
    await store.adminTokens.insert({
      id: uuidv7(),
      userId: user.id,
      name: 'ci',
      prefix: 'ardt_abc',
      hash: 'token-hash',
      createdAt: now,
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
    });
    const found = await store.adminTokens.findActiveByHash('token-hash', now);
    expect(found?.token.name).toBe('ci');
    expect(found?.user.role).toBe('admin');
    await store.users.update(user.id, { disabledAt: now }, now);
    expect(await store.adminTokens.findActiveByHash('token-hash', now)).toBeUndefined();
    expect(await store.userSessions.findActive('session-hash', now)).toBeUndefined();
    expect(await store.userSessions.deleteExpired(now + 60_000)).toBe(1);
  });
});
