import { createHash } from 'node:crypto';
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { StoreUnavailableError, ValidationError } from '../errors';
import { hideInLogs, type Logger, shortestHiddenText, withoutSecrets } from '../logger';
import {
  type Database,
  type Queryable,
  type Row,
  type RunResult,
  type SqlValue,
  type Statement,
  toPostgresPlaceholders,
} from './database';
import { planBatch } from './multi-row';

/**
 * Group commits in flight at once, each on its own pooled connection (of 10): while one waits
 * for its COMMIT's fsync, the next is already on its way.
 */
const commitConcurrency = 3;

/** A notification handler of `listen()`. */
export type NotificationHandler = (payload: string) => void;

// Text of each statement translated once: the same few statements run on every request.
const translated = new Map<string, string>();
function translate(sql: string): string {
  let text = translated.get(sql);
  if (text === undefined) {
    text = toPostgresPlaceholders(sql);
    if (translated.size > 1_000) translated.clear();
    translated.set(sql, text);
  }
  return text;
}

/**
 * Statements run often go as named prepared statements: PostgreSQL parses and plans them once per
 * connection instead of at every run (measured on the 2-core machine: a one-row SELECT took 23
 * instead of 63 µs of the backend's CPU, and 38 instead of 74 µs of the server's). A text is
 * named from its `preparedAfter`-th run (admin reads built from a filter rarely repeat), up to
 * `maxPrepared` texts per process: each is kept by every pooled connection. Texts with a `*`
 * stay unnamed: a prepared `SELECT *` fails ("cached plan must not change result type") once
 * another replica's migration adds a column.
 */
const preparedAfter = 3;
const maxPrepared = 200;
const uses = new Map<string, number>();
const names = new Map<string, string>();
function statementName(text: string): string | undefined {
  const known = names.get(text);
  if (known !== undefined || names.size >= maxPrepared || text.includes('*')) return known;
  const count = (uses.get(text) ?? 0) + 1;
  if (count < preparedAfter) {
    if (uses.size > 1_000) uses.clear();
    uses.set(text, count);
    return undefined;
  }
  uses.delete(text);
  const name = `arden_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
  names.set(text, name);
  return name;
}

type QueryTarget = Pick<Pool | PoolClient, 'query'>;

// PostgreSQL text cannot hold NUL. Stored text is validated before it gets here; a NUL in a
// lookup value (an id from a URL) can match nothing, so it is replaced instead of failing.
function bind(params: readonly SqlValue[]): unknown[] {
  let copy: SqlValue[] | undefined;
  for (let index = 0; index < params.length; index++) {
    const value = params[index];
    if (typeof value === 'string' && value.includes('\u0000')) {
      copy ??= [...params];
      copy[index] = value.replaceAll('\u0000', '\uFFFD');
    }
  }
  return (copy ?? params) as unknown[];
}

// Errors that mean "the database is not reachable now", as opposed to a bad statement.
const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '28000', // invalid_authorization_specification (the role is refused)
  '28P01', // invalid_password
  '3D000', // invalid_catalog_name (the database does not exist)
]);

/** Whether `error` says the database could not be reached (rather than refusing a statement). */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (connectionCodes.has(code) || code.startsWith('08'))) {
    return true;
  }
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|terminating connection|Client was closed|not queryable/i.test(
    error.message,
  );
}

function unavailable(error: unknown, location: string): unknown {
  if (!isConnectionError(error)) return error;
  const code = (error as { code?: string }).code;
  const message = withoutSecrets((error as Error).message);
  const detail = `${message}${code && !message.includes(code) ? ` (${code})` : ''}`;
  return new StoreUnavailableError(location, detail, { cause: error });
}

async function query(
  target: QueryTarget,
  location: string,
  sql: string,
  params: readonly SqlValue[],
) {
  const text = translate(sql);
  const name = statementName(text);
  try {
    return await (name === undefined
      ? target.query(text, bind(params))
      : target.query({ name, text, values: bind(params) }));
  } catch (error) {
    throw unavailable(error, location);
  }
}

function queryable(target: QueryTarget, location: string): Queryable {
  return {
    dialect: 'postgres',
    async all<T = Row>(sql: string, params: readonly SqlValue[] = []) {
      return (await query(target, location, sql, params)).rows as T[];
    },
    async get<T = Row>(sql: string, params: readonly SqlValue[] = []) {
      return (await query(target, location, sql, params)).rows[0] as T | undefined;
    },
    async run(sql: string, params: readonly SqlValue[] = []): Promise<RunResult> {
      const result = await query(target, location, sql, params);
      const seq = (result.rows[0] as { seq?: unknown } | undefined)?.seq;
      return {
        changes: result.rowCount ?? 0,
        lastInsertId: typeof seq === 'number' ? seq : undefined,
      };
    },
    async exec(sql: string) {
      try {
        await target.query(sql);
      } catch (error) {
        throw unavailable(error, location);
      }
    },
  };
}

// Query parameters of a connection URL whose values are secrets or name them (`password`,
// `sslpassword`, `sslkey`, and anything else that looks like one).
const secretParameter = /pass|key|secret|token|cert/i;

/**
 * Hides the credentials of a connection URL, for messages and logs: the password of
 * `user:password@`, and the values of `password`, `sslpassword`, `sslkey` (and similar)
 * parameters. A text that is not a URL is not shown at all.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()]) {
      if (secretParameter.test(name)) parsed.searchParams.set(name, '***');
    }
    return parsed.toString().replaceAll('%2A%2A%2A', '***');
  } catch {
    return 'postgres://…';
  }
}

/**
 * The secret texts of a connection URL (its password, and the values of secret parameters such
 * as `sslpassword` and `sslkey`, both as written and decoded), to be kept out of every message.
 */
export function connectionSecrets(url: string): string[] {
  const secrets = new Set<string>();
  const add = (value: string) => {
    if (value === '') return;
    secrets.add(value);
    try {
      secrets.add(decodeURIComponent(value));
    } catch {
      // Not percent-encoded text: the value as written is enough.
    }
  };
  try {
    const parsed = new URL(url);
    add(parsed.password);
    for (const [name, value] of parsed.searchParams) {
      if (secretParameter.test(name)) add(value);
    }
  } catch {
    // Not a URL: nothing can be picked out, so the whole text is a secret.
    add(url);
  }
  return [...secrets];
}

/**
 * Refuses a connection URL with a password, `sslpassword` or `sslkey` shorter than
 * `shortestHiddenText` characters: the logs hide these texts wherever they appear, which cannot
 * be done for one or two letters without blanking them in every word of every line. The message
 * never repeats the value.
 */
export function checkConnectionSecrets(url: string): void {
  if (connectionSecrets(url).some((secret) => secret.length < shortestHiddenText)) {
    throw new ValidationError(
      `A credential in DATABASE_URL (the password, or the sslpassword or sslkey parameter) is shorter than ${shortestHiddenText} characters. The server keeps database credentials out of its logs by hiding that text wherever it appears, which it cannot do for so short a text. Use a longer password (a random one of 16 characters or more) and restart.`,
      'databaseUrl',
    );
  }
}

/**
 * The PostgreSQL store: a `pg` pool; a transaction holds one pooled connection. `listen()` and
 * `notify()` (LISTEN/NOTIFY) carry approval decisions between replicas.
 */
export class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  readonly location: string;
  readonly commitConcurrency: number;
  private readonly direct: Queryable;
  private listener: PoolClient | undefined;
  private readonly handlers = new Map<string, Set<NotificationHandler>>();
  private readonly reconnectHandlers = new Set<() => void>();
  private closed = false;

  private constructor(
    private readonly pool: Pool,
    url: string,
    private readonly logger: Logger,
  ) {
    this.location = redactUrl(url);
    this.commitConcurrency = commitConcurrency;
    for (const secret of connectionSecrets(url)) hideInLogs(secret);
    this.direct = queryable(pool, this.where);
    pool.on('error', (error) => logger.warn('An idle PostgreSQL connection failed', { error }));
  }

  /** Connects (and checks the connection) to `url`. */
  static async connect(
    url: string,
    logger: Logger,
    config: PoolConfig = {},
  ): Promise<PostgresDatabase> {
    checkConnectionSecrets(url);
    let pg: typeof import('pg');
    try {
      const module = await import('pg');
      // "pg" is CommonJS: under ESM its API is the default export.
      pg = (module.default ?? module) as unknown as typeof import('pg');
    } catch (cause) {
      throw new Error(
        'DATABASE_URL is a PostgreSQL URL, but the "pg" package is not installed. Install it: pnpm add pg.',
        { cause },
      );
    }
    // BIGINT and NUMERIC (times in ms, sequence numbers, counts, sums) as JS numbers: they stay
    // below 2^53. Set on this pool only, not globally for every user of "pg".
    const types = {
      getTypeParser: (oid: number, format?: 'text' | 'binary') =>
        oid === 20 || oid === 1700
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format as 'text'),
    };
    const pool = new pg.Pool({
      connectionString: url,
      max: 10,
      types,
      // Never wait forever for a connection (a network cut): fail the request, retry later.
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      ...config,
    } as PoolConfig);
    const database = new PostgresDatabase(pool, url, logger);
    try {
      await database.ping();
    } catch (cause) {
      await pool.end().catch(() => undefined);
      const driverMessage = withoutSecrets(
        ((cause instanceof StoreUnavailableError ? cause.cause : cause) as Error).message,
      );
      // The driver's error is not kept as the cause: its message (a key file's path, say) is
      // repeated wherever the error is printed.
      throw new Error(
        `Could not connect to PostgreSQL at ${database.location}: ${driverMessage.replace(/\.$/, '')}. Check DATABASE_URL and that the server is running.`,
      );
    }
    return database;
  }

  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.direct.all<T>(sql, params);
  }

  get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.direct.get<T>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult> {
    return this.direct.run(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.direct.exec(sql);
  }

  /**
   * A connection from the pool, with an 'error' listener while it is checked out: the pool
   * listens only to idle connections, and a checked-out one that loses its server between two
   * statements emits 'error' — unheard, that would end the process. The statement in flight (or
   * the next one) fails with the outage instead. `release` removes the listener.
   */
  private async connect(): Promise<PoolClient> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error, this.where);
    }
    const onError = (error: Error) =>
      this.logger.warn('A PostgreSQL connection in use failed', { error });
    client.on('error', onError);
    const release = client.release.bind(client);
    client.release = ((broken?: Error | boolean) => {
      client.removeListener('error', onError);
      release(broken);
    }) as PoolClient['release'];
    return client;
  }

  // How messages name this database.
  private get where(): string {
    return `PostgreSQL at ${this.location}`;
  }

  transaction<T>(fn: (transaction: Queryable) => Promise<T>): Promise<T> {
    return this.inTransaction((client) => fn(queryable(client, this.where)));
  }

  private async inTransaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN').catch((error) => {
        throw unavailable(error, this.where);
      });
      try {
        const result = await fn(client);
        await client.query('COMMIT').catch((error) => {
          throw unavailable(error, this.where);
        });
        return result;
      } catch (error) {
        if (error instanceof StoreUnavailableError) broken = error;
        else await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      // A connection that failed is not given back to the pool.
      client.release(broken);
    }
  }

  /**
   * One transaction for the statements; statements of one kind next to each other (with the
   * same `rows`) go as one multi-row statement. A batch that comes down to one statement runs
   * without BEGIN/COMMIT (a statement alone is atomic): one round trip instead of three. Either
   * way it is answered only after its commit (`synchronous_commit` as the server has it: on,
   * by default).
   */
  async batch(statements: readonly Statement[]): Promise<RunResult[]> {
    const steps = planBatch(statements);
    const results = new Array<RunResult>(statements.length);
    const runSteps = async (client: QueryTarget) => {
      for (const step of steps) {
        if (step.kind === 'one') {
          results[step.index] = await queryable(client, this.where).run(
            step.statement.sql,
            step.statement.params ?? [],
          );
          continue;
        }
        const merged = step.rows.build(step.params);
        let returned: Row[];
        try {
          returned = (await client.query(merged)).rows as Row[];
        } catch (error) {
          throw unavailable(error, this.where);
        }
        const stepResults = step.rows.results(returned, step.params);
        for (const [position, index] of step.indexes.entries()) {
          results[index] = stepResults[position] ?? { changes: 0 };
        }
      }
    };
    if (steps.length === 1) {
      const client = await this.connect();
      let broken: Error | undefined;
      try {
        await runSteps(client);
      } catch (error) {
        if (error instanceof StoreUnavailableError) broken = error;
        throw error;
      } finally {
        client.release(broken);
      }
      return results;
    }
    await this.inTransaction(runSteps);
    return results;
  }

  async dedicated<T>(fn: (connection: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      return await fn(queryable(client, this.where));
    } catch (error) {
      // A connection left in an unknown state (an aborted statement, a session lock) is not
      // given back to the pool.
      broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async ping(): Promise<void> {
    await this.direct.get('SELECT 1 AS ok');
  }

  /** Sends a notification to every replica listening on `channel` (this one included). */
  async notify(channel: string, payload: string): Promise<void> {
    await this.direct.run('SELECT pg_notify(?, ?)', [channel, payload]);
  }

  /** Calls `handler` for each notification on `channel`; returns the unsubscribe function. */
  async listen(channel: string, handler: NotificationHandler): Promise<() => void> {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      const client = await this.listenerClient();
      await client.query(`LISTEN ${quoteIdentifier(channel)}`);
    }
    set.add(handler);
    return () => {
      set?.delete(handler);
    };
  }

  private async listenerClient(): Promise<PoolClient> {
    if (this.listener) return this.listener;
    const client = await this.pool.connect();
    this.listener = client;
    client.on('notification', (message) => {
      for (const handler of this.handlers.get(message.channel) ?? []) {
        try {
          handler(message.payload ?? '');
        } catch (error) {
          this.logger.warn('A notification handler failed', { channel: message.channel, error });
        }
      }
    });
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost || this.closed) return;
      lost = true;
      // The listening connection broke (PostgreSQL restarted, a network cut): reconnect and
      // listen again, so replicas keep waking. Notifications sent meanwhile are lost: the
      // reconnect handlers re-check what they were waiting for.
      this.logger.warn('The PostgreSQL LISTEN connection failed; reconnecting', { error });
      if (this.listener === client) {
        this.listener = undefined;
        client.release(error ?? new Error('the LISTEN connection ended'));
      }
      void this.relisten();
    };
    client.on('error', (error) => onLost(error));
    client.on('end', () => onLost());
    return client;
  }

  /**
   * Calls `handler` whenever the LISTEN connection is back after a failure: notifications sent
   * while it was down never arrive, so whoever waits on them should look again.
   */
  onReconnect(handler: () => void): () => void {
    this.reconnectHandlers.add(handler);
    return () => {
      this.reconnectHandlers.delete(handler);
    };
  }

  private relistening = false;

  private async relisten(): Promise<void> {
    if (this.relistening) return;
    this.relistening = true;
    try {
      await this.relistLoop();
    } finally {
      this.relistening = false;
    }
  }

  private async relistLoop(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const client = await this.listenerClient();
        for (const channel of this.handlers.keys())
          await client.query(`LISTEN ${quoteIdentifier(channel)}`);
        this.logger.info('Listening on PostgreSQL again');
        for (const handler of this.reconnectHandlers) {
          try {
            handler();
          } catch (error) {
            this.logger.warn('A reconnect handler failed', { error });
          }
        }
        return;
      } catch (error) {
        const broken = this.listener;
        this.listener = undefined;
        broken?.release(error as Error);
        this.logger.warn('Could not listen on PostgreSQL again; retrying', { error, attempt });
        // Quick at first (a restart takes seconds), then at most every 5 s.
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * 2 ** attempt)));
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listener?.release();
    this.listener = undefined;
    await this.pool.end();
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
