import { join, resolve } from 'node:path';
import { isRole } from '../../auth/roles';
import { SchemaVersionError } from '../../errors';
import { createLogger } from '../../logger';
import { migrate, openStore, redactUrl, type Store, sqlitePath } from '../../store';
import { withoutFinalStop } from '../../text';
import { UserAdministration } from '../../users/service';
import { type Parsed, parse, required, text } from '../args';
import { CliError, type CliIo, table, UsageError } from '../io';

/** Options of the commands that open the store directly. */
export const storeOptions = {
  'data-dir': { type: 'string' },
  db: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** The data directory and database URL of a command (flags, then the environment). */
export function storeLocation(
  parsed: Parsed,
  io: CliIo,
): { dataDir: string; databaseUrl?: string } {
  const dataDir = resolve(
    io.cwd,
    text(parsed, 'data-dir') ?? (io.env.ARDEN_DATA_DIR || undefined) ?? '.arden',
  );
  const databaseUrl =
    text(parsed, 'db') ??
    (io.env.ARDEN_DATABASE_URL || undefined) ??
    (io.env.DATABASE_URL || undefined) ??
    undefined;
  return databaseUrl ? { dataDir, databaseUrl } : { dataDir };
}

function describe(location: { dataDir: string; databaseUrl?: string }): string {
  if (location.databaseUrl && /^postgres/.test(location.databaseUrl)) {
    return redactUrl(location.databaseUrl);
  }
  return location.databaseUrl ? sqlitePath(location) : join(location.dataDir, 'arden.db');
}

/** Opens (and migrates) the store of a command, with errors that say what to do. */
export async function openCommandStore(parsed: Parsed, io: CliIo): Promise<Store> {
  const location = storeLocation(parsed, io);
  try {
    return await openStore({ ...location, logger: createLogger('silent') });
  } catch (error) {
    if (SchemaVersionError.isInstance(error)) throw new CliError(error.message);
    throw new CliError(
      `Cannot open the store at ${describe(location)}: ${withoutFinalStop((error as Error).message)}. Check --data-dir / --db (or ARDEN_DATA_DIR / DATABASE_URL).`,
    );
  }
}

const migrateHelp = `Usage: arden migrate [--data-dir DIR] [--db URL]

Creates the database if needed and brings its schema up to date (\`arden start\` does this
too). Opens the store directly: --data-dir (ARDEN_DATA_DIR, default ./.arden) or --db
(DATABASE_URL). Safe to run while a server is running, and from several processes at once.
`;

/** `arden migrate` */
export async function migrateCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(argv, storeOptions, 'migrate');
  if (parsed.values.help) {
    io.stdout(migrateHelp);
    return 0;
  }
  const location = storeLocation(parsed, io);
  io.stdout(`Migrating ${describe(location)}…\n`);
  let store: Store;
  try {
    store = await openStore({ ...location, migrate: false, logger: createLogger('silent') });
  } catch (error) {
    throw new CliError(
      `Cannot open the store at ${describe(location)}: ${withoutFinalStop((error as Error).message)}. Check --data-dir / --db.`,
    );
  }
  try {
    const result = await migrate(store.database, {
      ...createLogger('silent'),
      info: (message, fields) => {
        if (message.includes('migration'))
          io.stdout(`  applied ${String(fields?.version)}: ${String(fields?.name)}\n`);
        else if (message.includes('index'))
          io.stdout(`  building index ${String(fields?.index)} (writes go on meanwhile)…\n`);
        else if (message.includes('waiting')) io.stdout(`  ${message}…\n`);
      },
    } as ReturnType<typeof createLogger>);
    io.stdout(
      result.applied.length === 0
        ? `Already up to date (schema version ${result.to}).\n`
        : `Done: schema version ${result.from} → ${result.to}.\n`,
    );
    return 0;
  } catch (error) {
    if (SchemaVersionError.isInstance(error)) throw new CliError(error.message);
    throw error;
  } finally {
    await store.close();
  }
}

const usersHelp = `Usage:
  arden users create --email EMAIL [--role admin|approver|viewer] [--name NAME]
  arden users list
  arden users reset-password --email EMAIL

create makes a user with a generated one-time password (printed once; set
ARDEN_NEW_PASSWORD to choose it instead). reset-password prints a new generated password and
ends the user's sessions. Roles: admin (everything), approver (decide held calls and read),
viewer (read only).

These commands open the store directly (on the server's machine): --data-dir
(ARDEN_DATA_DIR, default ./.arden) or --db (DATABASE_URL). Through a running server, admins
use the dashboard or POST /api/v1/users instead.
`;

/** `arden users …` */
export async function usersCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(
    argv,
    {
      ...storeOptions,
      email: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
    },
    'users',
  );
  const sub = parsed.positionals[0];
  if (parsed.values.help || sub === undefined || sub === 'help') {
    io.stdout(usersHelp);
    return sub === undefined && !parsed.values.help ? 2 : 0;
  }
  if (!['create', 'list', 'reset-password'].includes(sub)) {
    throw new UsageError(`Unknown command \`arden users ${sub}\`. See \`arden users --help\`.`);
  }
  const role = text(parsed, 'role') ?? 'viewer';
  if (sub === 'create' && !isRole(role)) {
    throw new UsageError(`--role must be admin, approver or viewer; got "${role}".`);
  }
  const email = sub === 'list' ? '' : required(parsed, 'email', `users ${sub}`);
  const store = await openCommandStore(parsed, io);
  try {
    const users = new UserAdministration(store);
    if (sub === 'list') {
      const list = await store.users.list();
      if (parsed.values.json) {
        io.stdout(
          `${JSON.stringify(
            list.map(({ passwordHash: _hash, ...user }) => user),
            null,
            2,
          )}\n`,
        );
      } else {
        io.stdout(
          table([
            ['EMAIL', 'ROLE', 'STATUS', 'LAST LOGIN'],
            ...list.map((user) => [
              user.email,
              user.role,
              user.disabledAt === null ? 'active' : 'disabled',
              user.lastLoginAt ? new Date(user.lastLoginAt).toISOString() : '-',
            ]),
          ]),
        );
      }
      return 0;
    }
    if (sub === 'create') {
      const created = await users.createUser({
        email,
        role: role as 'admin' | 'approver' | 'viewer',
        name: text(parsed, 'name') ?? null,
        password: io.env.ARDEN_NEW_PASSWORD || null,
      });
      io.stdout(`Created ${created.user.role} ${created.user.email}.\n`);
      if (created.generatedPassword) {
        io.stdout(
          `One-time password (shown once; give it to the user, who should change it after logging in):\n  ${created.generatedPassword}\n`,
        );
      }
      return 0;
    }
    const reset = await users.resetPassword(email);
    io.stdout(
      `New password for ${reset.user.email} (shown once; their sessions were ended):\n  ${reset.password}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

const tokensHelp = `Usage:
  arden tokens create [--email EMAIL] [--name NAME] [--expires-in-days N]
  arden tokens list [--email EMAIL]
  arden tokens revoke TOKEN_ID

create makes an admin token for the CLI and automation: it acts as that user, with their role,
and is printed once (export it as ARDEN_ADMIN_TOKEN). Without --email, the only admin is used.

These commands open the store directly (on the server's machine): --data-dir
(ARDEN_DATA_DIR, default ./.arden) or --db (DATABASE_URL). Logged-in users can also create
their own tokens in the dashboard or with POST /api/v1/tokens.
`;

/** `arden tokens …` */
export async function tokensCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(
    argv,
    {
      ...storeOptions,
      email: { type: 'string' },
      name: { type: 'string' },
      'expires-in-days': { type: 'string' },
    },
    'tokens',
  );
  const sub = parsed.positionals[0];
  if (parsed.values.help || sub === undefined || sub === 'help') {
    io.stdout(tokensHelp);
    return sub === undefined && !parsed.values.help ? 2 : 0;
  }
  if (!['create', 'list', 'revoke'].includes(sub)) {
    throw new UsageError(`Unknown command \`arden tokens ${sub}\`. See \`arden tokens --help\`.`);
  }
  const days = text(parsed, 'expires-in-days');
  if (days !== undefined && !(Number(days) > 0)) {
    throw new UsageError(`--expires-in-days must be a number of days > 0; got "${days}".`);
  }
  const store = await openCommandStore(parsed, io);
  try {
    const users = new UserAdministration(store);
    const emailOption = text(parsed, 'email');
    if (sub === 'revoke') {
      const id = parsed.positionals[1];
      if (!id)
        throw new UsageError('arden tokens revoke needs the token id (see `arden tokens list`).');
      const revoked = await users.revokeToken(id);
      io.stdout(`Revoked admin token ${revoked.name} (${revoked.prefix}…).\n`);
      return 0;
    }
    if (sub === 'list') {
      const user = emailOption ? await users.getUser(emailOption) : undefined;
      const tokens = await store.adminTokens.list(user?.id);
      const emails = new Map((await store.users.list()).map((item) => [item.id, item.email]));
      if (parsed.values.json) io.stdout(`${JSON.stringify(tokens, null, 2)}\n`);
      else
        io.stdout(
          table([
            ['ID', 'NAME', 'PREFIX', 'USER', 'CREATED', 'STATUS'],
            ...tokens.map((token) => [
              token.id,
              token.name,
              `${token.prefix}…`,
              emails.get(token.userId) ?? token.userId,
              new Date(token.createdAt).toISOString(),
              token.revokedAt !== null
                ? 'revoked'
                : token.expiresAt !== null && token.expiresAt <= Date.now()
                  ? 'expired'
                  : 'active',
            ]),
          ]),
        );
      return 0;
    }
    let email = emailOption;
    if (!email) {
      const admins = (await store.users.list()).filter(
        (user) => user.role === 'admin' && user.disabledAt === null,
      );
      if (admins.length !== 1) {
        throw new UsageError(
          admins.length === 0
            ? 'There is no admin yet: start the server once (`arden start`) or create one with `arden users create --email … --role admin`.'
            : `There are ${admins.length} admins; say whose token this is with --email.`,
        );
      }
      email = (admins[0] as { email: string }).email;
    }
    const user = await users.getUser(email);
    const created = await users.createToken(
      user.id,
      text(parsed, 'name') ?? 'cli',
      days === undefined ? undefined : Number(days),
    );
    if (parsed.values.json) {
      io.stdout(
        `${JSON.stringify({ token: created.token, id: created.record.id, user: user.email }, null, 2)}\n`,
      );
    } else {
      io.stdout(
        `Admin token for ${user.email} (${user.role}), shown once:\n  ${created.token}\nUse it with: export ARDEN_ADMIN_TOKEN=${created.token}\n`,
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}
