import { randomBytes } from 'node:crypto';
import { adminQueries } from '../admin/queries';
import { isRole } from '../auth/roles';
import {
  generateSecret,
  hashPassword,
  hashSecret,
  passwordHashCostFor,
  type ScryptCost,
  verifyPassword,
} from '../crypto';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { uuidv7 } from '../ids';
import type { AdminTokenRecord, Repositories, Store, UserRecord, UserRole } from '../store';

/** The prefix of admin tokens, so a leaked one is recognisable (and never taken for an agent key). */
export const adminTokenPrefix = 'arden_admin_';

/** Shortest password a user may choose. */
export const minimumPasswordLength = 10;

const maximumPasswordLength = 1024;
const emailPattern = /^[^\s@]+@[^\s@]+$/;

/** Checks and normalises an email address (trimmed, lower-cased). */
export function normaliseEmail(email: unknown): string {
  if (typeof email !== 'string') throw new ValidationError('email must be a string.', 'email');
  const trimmed = email.trim().toLowerCase();
  if (trimmed.length > 254 || !emailPattern.test(trimmed)) {
    throw new ValidationError(
      `email "${trimmed.slice(0, 100)}" is not an email address (like ada@example.com).`,
      'email',
    );
  }
  return trimmed;
}

/** Checks a password a user chose: long enough, not absurdly long. */
export function checkPassword(password: unknown, field = 'password'): string {
  if (typeof password !== 'string') throw new ValidationError(`${field} must be a string.`, field);
  if (password.length < minimumPasswordLength) {
    throw new ValidationError(
      `${field} must be at least ${minimumPasswordLength} characters long; a passphrase of a few words is easiest.`,
      field,
    );
  }
  if (password.length > maximumPasswordLength) {
    throw new ValidationError(
      `${field} must be at most ${maximumPasswordLength} characters long.`,
      field,
    );
  }
  return password;
}

/** A random password for a new user or a reset: 24 characters, shown once. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Input of `createUser`. */
export interface CreateUserInput {
  email: string;
  role: UserRole;
  name?: string | null;
  /** The password; when absent a one-time password is generated and returned once. */
  password?: string | null;
}

/** A created user; `password` is set (once) when it was generated. */
export interface CreatedUser {
  user: UserRecord;
  generatedPassword: string | undefined;
}

/** A created admin token: `token` is shown once and never stored. */
export interface CreatedAdminToken {
  token: string;
  record: AdminTokenRecord;
}

/** What `ensureFirstAdmin` did. */
export interface FirstAdmin {
  created: boolean;
  email: string;
  /** Set only when the password was generated (print it once; it is not stored anywhere). */
  generatedPassword?: string;
}

/**
 * Users and admin tokens: creation with scrypt-hashed passwords, role changes, disabling,
 * password resets, and the tokens of the CLI and automation (stored as SHA-256 hashes).
 * Works on a store directly, so the CLI can use it without a running server.
 */
export class UserAdministration {
  private readonly cost: Readonly<ScryptCost>;

  /**
   * `options.insecureTestPasswordHashing` hashes passwords at a test-only cost (see
   * `AdminOptions`); never set it outside a test suite.
   */
  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
    options: { insecureTestPasswordHashing?: boolean } = {},
  ) {
    this.cost = passwordHashCostFor(options.insecureTestPasswordHashing);
  }

  /** Creates a user. Emails are unique (case-insensitive). */
  async createUser(input: CreateUserInput): Promise<CreatedUser> {
    const email = normaliseEmail(input.email);
    if (!isRole(input.role)) {
      throw new ValidationError('role must be one of admin, approver, viewer.', 'role');
    }
    const generatedPassword =
      input.password === undefined || input.password === null ? generatePassword() : undefined;
    const password = generatedPassword ?? checkPassword(input.password);
    if (await this.store.users.getByEmail(email)) {
      throw new ConflictError(`A user with the email ${email} already exists.`);
    }
    const now = this.clock();
    const user: UserRecord = {
      id: uuidv7(now),
      email,
      name: input.name ?? null,
      passwordHash: await hashPassword(password, this.cost),
      role: input.role,
      createdAt: now,
      updatedAt: now,
      lastLoginAt: null,
      disabledAt: null,
    };
    await this.store.users.insert(user);
    return { user, generatedPassword };
  }

  /** A user by id or email. Throws `NotFoundError`. */
  async getUser(idOrEmail: string): Promise<UserRecord> {
    const user = idOrEmail.includes('@')
      ? await this.store.users.getByEmail(idOrEmail.trim())
      : await this.store.users.get(idOrEmail);
    if (!user) {
      throw new NotFoundError(
        `No user "${idOrEmail.slice(0, 200)}". List users with GET /api/v1/users.`,
      );
    }
    return user;
  }

  /**
   * Changes a user's role, name or disabled state. Refuses to leave the server without an
   * enabled admin. Disabling a user ends their browser sessions; their tokens stop working.
   */
  async updateUser(
    id: string,
    patch: { role?: UserRole; name?: string | null; disabled?: boolean },
  ): Promise<UserRecord> {
    const user = await this.getUser(id);
    if (patch.role !== undefined && !isRole(patch.role)) {
      throw new ValidationError('role must be one of admin, approver, viewer.', 'role');
    }
    const now = this.clock();
    const losesAdmin =
      user.role === 'admin' &&
      user.disabledAt === null &&
      ((patch.role !== undefined && patch.role !== 'admin') || patch.disabled === true);
    return this.store.transaction(async (repositories) => {
      if (losesAdmin && (await enabledAdmins(repositories)) <= 1) {
        throw new ConflictError(
          `${user.email} is the only enabled admin; make another user admin first.`,
        );
      }
      const updated = await repositories.users.update(
        user.id,
        {
          role: patch.role,
          name: patch.name,
          disabledAt: patch.disabled === undefined ? undefined : patch.disabled ? now : null,
        },
        now,
      );
      if (patch.disabled === true) await repositories.userSessions.deleteForUser(user.id);
      return updated as UserRecord;
    });
  }

  /** Sets a new generated password (returned once) and ends the user's browser sessions. */
  async resetPassword(id: string): Promise<{ user: UserRecord; password: string }> {
    const user = await this.getUser(id);
    const password = generatePassword();
    const now = this.clock();
    const updated = await this.store.transaction(async (repositories) => {
      const changed = await repositories.users.update(
        user.id,
        { passwordHash: await hashPassword(password, this.cost) },
        now,
      );
      await repositories.userSessions.deleteForUser(user.id);
      return changed as UserRecord;
    });
    return { user: updated, password };
  }

  /**
   * Changes a user's own password after checking the current one. Ends their other browser
   * sessions (`keepSessionHash` is kept).
   */
  async changePassword(
    userId: string,
    currentPassword: unknown,
    newPassword: unknown,
    keepSessionHash?: string,
  ): Promise<void> {
    const user = await this.getUser(userId);
    if (
      typeof currentPassword !== 'string' ||
      !user.passwordHash ||
      !(await verifyPassword(currentPassword, user.passwordHash))
    ) {
      throw new ForbiddenError('The current password is not right; nothing was changed.');
    }
    const password = checkPassword(newPassword, 'new_password');
    const now = this.clock();
    const hash = await hashPassword(password, this.cost);
    await this.store.transaction(async (repositories) => {
      await repositories.users.update(user.id, { passwordHash: hash }, now);
      const kept = keepSessionHash
        ? await repositories.userSessions.findActive(keepSessionHash, now)
        : undefined;
      await repositories.userSessions.deleteForUser(user.id);
      if (kept) await repositories.userSessions.insert(kept.session);
    });
  }

  /**
   * Creates the first admin when the server has no users: `email` and `password` (from
   * `ARDEN_ADMIN_EMAIL` / `ARDEN_ADMIN_PASSWORD`), else `admin@localhost` with a generated
   * one-time password that the caller prints once. Does nothing when any user exists.
   */
  async ensureFirstAdmin(options: { email?: string; password?: string } = {}): Promise<FirstAdmin> {
    const email = normaliseEmail(options.email || 'admin@localhost');
    if ((await this.store.users.count()) > 0) return { created: false, email };
    const password = options.password || undefined;
    const created = await this.createUser({ email, role: 'admin', password: password ?? null });
    return created.generatedPassword === undefined
      ? { created: true, email }
      : { created: true, email, generatedPassword: created.generatedPassword };
  }

  /** Creates an admin token acting as `userId` (with that user's role). Shown once. */
  async createToken(
    userId: string,
    name: string,
    expiresInDays?: number | null,
  ): Promise<CreatedAdminToken> {
    const user = await this.getUser(userId);
    if (user.disabledAt !== null) {
      throw new ConflictError(`${user.email} is disabled; enable the user before creating tokens.`);
    }
    const trimmed = typeof name === 'string' ? name.trim() : '';
    if (trimmed.length === 0 || trimmed.length > 100) {
      throw new ValidationError('name must be 1–100 characters, such as "ci" or "laptop".', 'name');
    }
    if (
      expiresInDays !== undefined &&
      expiresInDays !== null &&
      !(Number.isFinite(expiresInDays) && expiresInDays > 0 && expiresInDays <= 3650)
    ) {
      throw new ValidationError(
        'expires_in_days must be a number from 1 to 3650.',
        'expires_in_days',
      );
    }
    const token = generateSecret(adminTokenPrefix);
    const now = this.clock();
    const record: AdminTokenRecord = {
      id: uuidv7(now),
      userId: user.id,
      name: trimmed,
      prefix: token.slice(0, adminTokenPrefix.length + 4),
      createdAt: now,
      expiresAt: expiresInDays ? now + expiresInDays * 86_400_000 : null,
      revokedAt: null,
      lastUsedAt: null,
    };
    await this.store.adminTokens.insert({ ...record, hash: hashSecret(token) });
    return { token, record };
  }

  /** Revokes a token. Throws `NotFoundError` for an unknown one. */
  async revokeToken(id: string): Promise<AdminTokenRecord> {
    const token = await adminQueries(this.store.database).adminToken(id);
    if (!token) throw new NotFoundError(`No admin token ${id.slice(0, 100)}.`);
    await this.store.adminTokens.revoke(id, this.clock());
    return { ...token, revokedAt: token.revokedAt ?? this.clock() };
  }
}

async function enabledAdmins(repositories: Repositories): Promise<number> {
  return (await repositories.users.list()).filter(
    (user) => user.role === 'admin' && user.disabledAt === null,
  ).length;
}
