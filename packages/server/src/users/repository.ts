import type { Queryable, Row, SqlValue } from '../store/database';
import type { AdminTokenRecord, UserRecord, UserRole, UserSessionRecord } from '../store/records';
import { int, text } from '../store/rows';

// Users, their browser sessions and admin tokens.

function toUser(row: Row): UserRecord {
  return {
    id: String(row.id),
    email: String(row.email),
    name: text(row.name),
    passwordHash: text(row.password_hash),
    role: row.role as UserRole,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    lastLoginAt: int(row.last_login_at),
    disabledAt: int(row.disabled_at),
  };
}

function toUserSession(row: Row): UserSessionRecord {
  return {
    idHash: String(row.id_hash),
    userId: String(row.user_id),
    csrfToken: text(row.csrf_token),
    userAgent: text(row.user_agent),
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    expiresAt: Number(row.expires_at),
  };
}

function toAdminToken(row: Row): AdminTokenRecord {
  return {
    id: String(row.id),
    userId: String(row.user_id),
    name: String(row.name),
    prefix: String(row.prefix),
    createdAt: Number(row.created_at),
    expiresAt: int(row.expires_at),
    revokedAt: int(row.revoked_at),
    lastUsedAt: int(row.last_used_at),
  };
}

/** Fields of a user that can be changed. */
export interface UserPatch {
  email?: string;
  name?: string | null;
  passwordHash?: string | null;
  role?: UserRole;
  lastLoginAt?: number;
  disabledAt?: number | null;
}

const userColumns: [keyof UserPatch, string][] = [
  ['email', 'email'],
  ['name', 'name'],
  ['passwordHash', 'password_hash'],
  ['role', 'role'],
  ['lastLoginAt', 'last_login_at'],
  ['disabledAt', 'disabled_at'],
];

/** Dashboard and CLI users. Emails are stored lower-cased. */
export function userRepository(db: Queryable) {
  return {
    async insert(user: UserRecord): Promise<void> {
      await db.run(
        `INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at,
           last_login_at, disabled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          user.id,
          user.email.toLowerCase(),
          user.name,
          user.passwordHash,
          user.role,
          user.createdAt,
          user.updatedAt,
          user.lastLoginAt,
          user.disabledAt,
        ],
      );
    },
    async get(id: string): Promise<UserRecord | undefined> {
      const row = await db.get('SELECT * FROM users WHERE id = ?', [id]);
      return row ? toUser(row) : undefined;
    },
    async getByEmail(email: string): Promise<UserRecord | undefined> {
      const row = await db.get('SELECT * FROM users WHERE email = ?', [email.toLowerCase()]);
      return row ? toUser(row) : undefined;
    },
    async list(): Promise<UserRecord[]> {
      return (await db.all('SELECT * FROM users ORDER BY email')).map(toUser);
    },
    async count(): Promise<number> {
      const row = await db.get<{ count: number }>('SELECT COUNT(*) AS count FROM users');
      return Number(row?.count ?? 0);
    },
    async update(id: string, patch: UserPatch, at: number): Promise<UserRecord | undefined> {
      const sets: string[] = [];
      const params: SqlValue[] = [];
      for (const [field, column] of userColumns) {
        if (patch[field] !== undefined) {
          sets.push(`${column} = ?`);
          const value = patch[field] as SqlValue;
          params.push(field === 'email' && typeof value === 'string' ? value.toLowerCase() : value);
        }
      }
      sets.push('updated_at = ?');
      params.push(at, id);
      const row = await db.get(
        `UPDATE users SET ${sets.join(', ')} WHERE id = ? RETURNING *`,
        params,
      );
      return row ? toUser(row) : undefined;
    },
  };
}

/** Browser sessions (cookie id hashed with `hashSecret`). */
export function userSessionRepository(db: Queryable) {
  return {
    async insert(session: UserSessionRecord): Promise<void> {
      await db.run(
        `INSERT INTO user_sessions (id_hash, user_id, csrf_token, user_agent, created_at,
           last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [
          session.idHash,
          session.userId,
          session.csrfToken,
          session.userAgent,
          session.createdAt,
          session.lastSeenAt,
          session.expiresAt,
        ],
      );
    },
    /** The unexpired session with this id hash and its user (not disabled). */
    async findActive(
      idHash: string,
      now: number,
    ): Promise<{ session: UserSessionRecord; user: UserRecord } | undefined> {
      const row = await db.get<Row>(
        `SELECT s.id_hash, s.user_id, s.csrf_token, s.user_agent, s.created_at AS s_created_at,
           s.last_seen_at, s.expires_at, u.*
         FROM user_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL`,
        [idHash, now],
      );
      if (!row) return undefined;
      return {
        session: toUserSession({ ...row, created_at: row.s_created_at }),
        user: toUser(row),
      };
    },
    async touch(idHash: string, now: number, expiresAt?: number): Promise<void> {
      await db.run(
        'UPDATE user_sessions SET last_seen_at = ?, expires_at = COALESCE(?, expires_at) WHERE id_hash = ?',
        [now, expiresAt ?? null, idHash],
      );
    },
    async delete(idHash: string): Promise<boolean> {
      return (await db.run('DELETE FROM user_sessions WHERE id_hash = ?', [idHash])).changes > 0;
    },
    async deleteForUser(userId: string): Promise<number> {
      return (await db.run('DELETE FROM user_sessions WHERE user_id = ?', [userId])).changes;
    },
    async deleteExpired(now: number): Promise<number> {
      return (await db.run('DELETE FROM user_sessions WHERE expires_at <= ?', [now])).changes;
    },
  };
}

/** Admin API tokens (hashed with `hashSecret`). */
export function adminTokenRepository(db: Queryable) {
  return {
    async insert(token: AdminTokenRecord & { hash: string }): Promise<void> {
      await db.run(
        `INSERT INTO admin_tokens (id, user_id, name, prefix, hash, created_at, expires_at,
           revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          token.id,
          token.userId,
          token.name,
          token.prefix,
          token.hash,
          token.createdAt,
          token.expiresAt,
          token.revokedAt,
          token.lastUsedAt,
        ],
      );
    },
    /** The unrevoked, unexpired token with this hash and its user (not disabled). */
    async findActiveByHash(
      hash: string,
      now: number,
    ): Promise<{ token: AdminTokenRecord; user: UserRecord } | undefined> {
      const row = await db.get<Row>(
        `SELECT t.id AS t_id, t.user_id, t.name AS t_name, t.prefix, t.created_at AS t_created_at,
           t.expires_at, t.revoked_at, t.last_used_at, u.*
         FROM admin_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)
           AND u.disabled_at IS NULL`,
        [hash, now],
      );
      if (!row) return undefined;
      return {
        token: toAdminToken({
          ...row,
          id: row.t_id,
          name: row.t_name,
          created_at: row.t_created_at,
        }),
        user: toUser(row),
      };
    },
    async list(userId?: string): Promise<AdminTokenRecord[]> {
      const rows = userId
        ? await db.all('SELECT * FROM admin_tokens WHERE user_id = ? ORDER BY created_at', [userId])
        : await db.all('SELECT * FROM admin_tokens ORDER BY created_at');
      return rows.map(toAdminToken);
    },
    async revoke(id: string, at: number): Promise<boolean> {
      const result = await db.run(
        'UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
        [at, id],
      );
      return result.changes > 0;
    },
    async touch(id: string, at: number): Promise<void> {
      await db.run('UPDATE admin_tokens SET last_used_at = ? WHERE id = ?', [at, id]);
    },
  };
}
