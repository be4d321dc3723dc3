import { isEffect } from '@arden/policy';
import type { Environment } from '../crypto';
import type { Dialect, Queryable, Row, SqlValue, Statement } from './database';
import { decodeCursor, encodeCursor, jsonOrNull, jsonText, parseJson } from './json';
import type {
  ActionRecord,
  ActionStatus,
  AdminTokenRecord,
  AgentRecord,
  ApiKeyRecord,
  DeliveryAttemptRecord,
  DeliveryRecord,
  DeliveryStatus,
  Effect,
  Page,
  PolicyRecord,
  PolicyVersionRecord,
  UsageRecord,
  UserRecord,
  UserRole,
  UserSessionRecord,
} from './records';

const text = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value);
const int = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

function clampLimit(limit: number | undefined, fallback = 50, maximum = 500): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.max(1, Math.min(maximum, Math.floor(limit)));
}

function page<T extends { seq: number }>(rows: T[], limit: number): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items, nextCursor: more && last ? encodeCursor(last.seq) : undefined };
}

// ---------------------------------------------------------------------------------------------
// Agents

function toAgent(row: Row): AgentRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    description: text(row.description),
    defaultAction: row.default_action as Effect,
    webhookUrl: text(row.webhook_url),
    signingKey: String(row.signing_key),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    deletedAt: int(row.deleted_at),
    webhookFailingSince: int(row.webhook_failing_since),
    webhookDisabledAt: int(row.webhook_disabled_at),
    webhookDisabledReason: text(row.webhook_disabled_reason),
  };
}

/** Fields of an agent that can be changed. */
export interface AgentPatch {
  name?: string;
  description?: string | null;
  defaultAction?: Effect;
  webhookUrl?: string | null;
  signingKey?: string;
}

/** Agents: create, read, update, soft-delete. */
export function agentRepository(db: Queryable) {
  return {
    async insert(agent: AgentRecord): Promise<void> {
      await db.run(
        `INSERT INTO agents (id, name, description, default_action, webhook_url, signing_key,
           created_at, updated_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          agent.id,
          agent.name,
          agent.description,
          agent.defaultAction,
          agent.webhookUrl,
          agent.signingKey,
          agent.createdAt,
          agent.updatedAt,
          agent.deletedAt,
        ],
      );
    },
    async get(id: string): Promise<AgentRecord | undefined> {
      const row = await db.get('SELECT * FROM agents WHERE id = ?', [id]);
      return row ? toAgent(row) : undefined;
    },
    async getByName(name: string): Promise<AgentRecord | undefined> {
      const row = await db.get('SELECT * FROM agents WHERE name = ?', [name]);
      return row ? toAgent(row) : undefined;
    },
    async list(options: { includeDeleted?: boolean } = {}): Promise<AgentRecord[]> {
      const rows = await db.all(
        options.includeDeleted
          ? 'SELECT * FROM agents ORDER BY name'
          : 'SELECT * FROM agents WHERE deleted_at IS NULL ORDER BY name',
      );
      return rows.map(toAgent);
    },
    async update(id: string, patch: AgentPatch, at: number): Promise<AgentRecord | undefined> {
      const sets: string[] = [];
      const params: SqlValue[] = [];
      const columns: [keyof AgentPatch, string][] = [
        ['name', 'name'],
        ['description', 'description'],
        ['defaultAction', 'default_action'],
        ['webhookUrl', 'webhook_url'],
        ['signingKey', 'signing_key'],
      ];
      for (const [field, column] of columns) {
        if (patch[field] !== undefined) {
          sets.push(`${column} = ?`);
          params.push(patch[field] as SqlValue);
        }
      }
      sets.push('updated_at = ?');
      params.push(at, id);
      const row = await db.get(
        `UPDATE agents SET ${sets.join(', ')} WHERE id = ? RETURNING *`,
        params,
      );
      return row ? toAgent(row) : undefined;
    },
    /** Records a failed delivery to the agent's endpoint; returns since when it has failed. */
    async webhookFailed(id: string, at: number): Promise<number> {
      const row = await db.get<{ since: number | null }>(
        `UPDATE agents SET webhook_failing_since = COALESCE(webhook_failing_since, ?)
         WHERE id = ? RETURNING webhook_failing_since AS since`,
        [at, id],
      );
      return Number(row?.since ?? at);
    },
    /** Records a successful delivery: the endpoint is healthy (and enabled) again. */
    async webhookSucceeded(id: string): Promise<void> {
      await db.run(
        `UPDATE agents SET webhook_failing_since = NULL, webhook_disabled_at = NULL,
           webhook_disabled_reason = NULL
         WHERE id = ? AND (webhook_failing_since IS NOT NULL OR webhook_disabled_at IS NOT NULL)`,
        [id],
      );
    },
    /** Disables the agent's webhook endpoint; false when it already was. */
    async disableWebhook(id: string, at: number, reason: string): Promise<boolean> {
      const result = await db.run(
        `UPDATE agents SET webhook_disabled_at = ?, webhook_disabled_reason = ?
         WHERE id = ? AND webhook_disabled_at IS NULL`,
        [at, reason, id],
      );
      return result.changes > 0;
    },
    /** Enables the agent's webhook endpoint again and forgets its failures. */
    async enableWebhook(id: string): Promise<void> {
      await db.run(
        `UPDATE agents SET webhook_failing_since = NULL, webhook_disabled_at = NULL,
           webhook_disabled_reason = NULL WHERE id = ?`,
        [id],
      );
    },
    async softDelete(id: string, at: number): Promise<boolean> {
      const result = await db.run(
        'UPDATE agents SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL',
        [at, at, id],
      );
      return result.changes > 0;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// API keys

function toApiKey(row: Row): ApiKeyRecord {
  return {
    id: String(row.id),
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    name: text(row.name),
    prefix: String(row.prefix),
    createdAt: Number(row.created_at),
    revokedAt: int(row.revoked_at),
    lastUsedAt: int(row.last_used_at),
  };
}

/** Agent API keys, stored as SHA-256 hashes. */
export function apiKeyRepository(db: Queryable) {
  return {
    async insert(key: ApiKeyRecord & { hash: string }): Promise<void> {
      await db.run(
        `INSERT INTO api_keys (id, agent_id, environment, name, prefix, hash, created_at,
           revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          key.id,
          key.agentId,
          key.environment,
          key.name,
          key.prefix,
          key.hash,
          key.createdAt,
          key.revokedAt,
          key.lastUsedAt,
        ],
      );
    },
    /** The live (not revoked) key with this hash and its agent (not deleted). */
    async findActiveByHash(
      hash: string,
    ): Promise<{ key: ApiKeyRecord; agent: AgentRecord } | undefined> {
      const row = await db.get<Row>(
        `SELECT k.id AS key_id, k.agent_id, k.environment, k.name AS key_name, k.prefix,
           k.created_at AS key_created_at, k.revoked_at, k.last_used_at,
           a.id, a.name, a.description, a.default_action, a.webhook_url, a.signing_key,
           a.created_at, a.updated_at, a.deleted_at, a.webhook_failing_since,
           a.webhook_disabled_at, a.webhook_disabled_reason
         FROM api_keys k JOIN agents a ON a.id = k.agent_id
         WHERE k.hash = ? AND k.revoked_at IS NULL AND a.deleted_at IS NULL`,
        [hash],
      );
      if (!row) return undefined;
      return {
        key: toApiKey({
          ...row,
          id: row.key_id,
          name: row.key_name,
          created_at: row.key_created_at,
        }),
        agent: toAgent(row),
      };
    },
    async get(id: string): Promise<ApiKeyRecord | undefined> {
      const row = await db.get('SELECT * FROM api_keys WHERE id = ?', [id]);
      return row ? toApiKey(row) : undefined;
    },
    /** The hash of a key, for cache invalidation. */
    async hashOf(id: string): Promise<string | undefined> {
      const row = await db.get<{ hash: string }>('SELECT hash FROM api_keys WHERE id = ?', [id]);
      return row?.hash;
    },
    async list(
      agentId: string,
      options: { environment?: Environment; includeRevoked?: boolean } = {},
    ): Promise<ApiKeyRecord[]> {
      const where = ['agent_id = ?'];
      const params: SqlValue[] = [agentId];
      if (options.environment) {
        where.push('environment = ?');
        params.push(options.environment);
      }
      if (!options.includeRevoked) where.push('revoked_at IS NULL');
      const rows = await db.all(
        `SELECT * FROM api_keys WHERE ${where.join(' AND ')} ORDER BY created_at`,
        params,
      );
      return rows.map(toApiKey);
    },
    async revoke(id: string, at: number): Promise<boolean> {
      const result = await db.run(
        'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
        [at, id],
      );
      return result.changes > 0;
    },
    /** Records when keys were last used (written in batches, not per request). */
    async touch(lastUsed: ReadonlyMap<string, number>): Promise<void> {
      for (const [id, at] of lastUsed) {
        await db.run(
          'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
          [at, id, at],
        );
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Policies

function toPolicy(row: Row): PolicyRecord {
  return {
    id: String(row.id),
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    name: String(row.name),
    tool: String(row.tool),
    definition: parseJson(row.definition, {}),
    position: Number(row.position),
    version: Number(row.version),
    createdBy: text(row.created_by),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toPolicyVersion(row: Row): PolicyVersionRecord {
  return {
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    version: Number(row.version),
    policies: parseJson(row.policies, []),
    diff: parseJson(row.diff, { added: [], removed: [], changed: [] }),
    message: text(row.message),
    createdBy: text(row.created_by),
    createdAt: Number(row.created_at),
  };
}

/** Policy sets per agent and environment, and their version history. */
export function policyRepository(db: Queryable) {
  return {
    async list(agentId: string, environment: Environment): Promise<PolicyRecord[]> {
      const rows = await db.all(
        'SELECT * FROM policies WHERE agent_id = ? AND environment = ? ORDER BY position',
        [agentId, environment],
      );
      return rows.map(toPolicy);
    },
    async deleteAll(agentId: string, environment: Environment): Promise<void> {
      await db.run('DELETE FROM policies WHERE agent_id = ? AND environment = ?', [
        agentId,
        environment,
      ]);
    },
    async insert(policy: PolicyRecord): Promise<void> {
      await db.run(
        `INSERT INTO policies (id, agent_id, environment, name, tool, definition, position,
           version, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          policy.id,
          policy.agentId,
          policy.environment,
          policy.name,
          policy.tool,
          JSON.stringify(policy.definition),
          policy.position,
          policy.version,
          policy.createdBy,
          policy.createdAt,
          policy.updatedAt,
        ],
      );
    },
    /** The current set version (0 when no set was ever saved). */
    async currentVersion(agentId: string, environment: Environment): Promise<number> {
      const row = await db.get<{ version: number | null }>(
        'SELECT MAX(version) AS version FROM policy_versions WHERE agent_id = ? AND environment = ?',
        [agentId, environment],
      );
      return Number(row?.version ?? 0);
    },
    async insertVersion(version: PolicyVersionRecord): Promise<void> {
      await db.run(
        `INSERT INTO policy_versions (agent_id, environment, version, policies, diff, message,
           created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          version.agentId,
          version.environment,
          version.version,
          JSON.stringify(version.policies),
          JSON.stringify(version.diff),
          version.message,
          version.createdBy,
          version.createdAt,
        ],
      );
    },
    async getVersion(
      agentId: string,
      environment: Environment,
      version: number,
    ): Promise<PolicyVersionRecord | undefined> {
      const row = await db.get(
        'SELECT * FROM policy_versions WHERE agent_id = ? AND environment = ? AND version = ?',
        [agentId, environment, version],
      );
      return row ? toPolicyVersion(row) : undefined;
    },
    /** Versions newest first; `before` pages back. */
    async listVersions(
      agentId: string,
      environment: Environment,
      options: { limit?: number; before?: number } = {},
    ): Promise<PolicyVersionRecord[]> {
      const before = options.before === undefined ? '' : 'AND version < ?';
      const rows = await db.all(
        `SELECT * FROM policy_versions WHERE agent_id = ? AND environment = ? ${before}
         ORDER BY version DESC LIMIT ?`,
        [
          agentId,
          environment,
          ...(options.before === undefined ? [] : [options.before]),
          clampLimit(options.limit),
        ],
      );
      return rows.map(toPolicyVersion);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Actions

function toAction(row: Row): ActionRecord {
  return {
    seq: Number(row.seq),
    id: String(row.id),
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    toolName: String(row.tool_name),
    args: parseJson(row.args, []),
    kwargs: parseJson(row.kwargs, {}),
    metadata: parseJson(row.metadata, null),
    argsJson: jsonText(row.args, '[]'),
    kwargsJson: jsonText(row.kwargs, '{}'),
    metadataJson: row.metadata === null || row.metadata === undefined ? null : String(row.metadata),
    sessionId: text(row.session_id),
    decision: row.decision as Effect,
    reason: text(row.reason),
    policy: parseJson(row.policy, null),
    status: row.status as ActionStatus,
    expiresAt: int(row.expires_at),
    onTimeout: (text(row.on_timeout) as ActionRecord['onTimeout']) ?? null,
    decidedBy: text(row.decided_by),
    decidedAt: int(row.decided_at),
    notes: text(row.notes),
    resultStatus: (text(row.result_status) as ActionRecord['resultStatus']) ?? null,
    durationMs: int(row.duration_ms),
    resultError: text(row.result_error),
    result: parseJson(row.result, null),
    reportedAt: int(row.reported_at),
    createdAt: Number(row.created_at),
  };
}

/**
 * A new action, as the check endpoint logs it. The JSON texts are what is stored; without them
 * (actions made in tests) the parsed values are stored as `JSON.stringify` writes them.
 */
export type NewAction = Omit<ActionRecord, 'seq' | 'argsJson' | 'kwargsJson' | 'metadataJson'> &
  Partial<Pick<ActionRecord, 'argsJson' | 'kwargsJson' | 'metadataJson'>>;

/** Filters of the action log. Times are ms since the epoch; `to` is exclusive. */
export interface ActionFilter {
  agentId?: string;
  environment?: Environment;
  /** A tool name, or a prefix ending in `*` (`stripe.*`). */
  tool?: string;
  decision?: Effect;
  status?: ActionStatus | ActionStatus[];
  sessionId?: string;
  from?: number;
  to?: number;
}

/** Filters of session listings. */
export interface SessionFilter {
  agentId?: string;
  environment?: Environment;
  from?: number;
  to?: number;
}

/** One session: its actions counted and its token usage summed. */
export interface SessionSummary {
  sessionId: string;
  agentId: string;
  environment: Environment;
  actions: number;
  pending: number;
  blocked: number;
  firstAt: number;
  lastAt: number;
  totalTokens: number;
  costUsd: number;
}

const actionStatuses: readonly ActionStatus[] = [
  'pending',
  'approved',
  'denied',
  'completed',
  'expired',
];

/**
 * The smallest string greater than every string that starts with `prefix` (in code point
 * order, which is byte order for UTF-8), or undefined when there is none: `prefix <= x < upper`
 * is "x starts with prefix", and an index can answer it.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = [...prefix];
  while (points.length > 0) {
    const last = (points.pop() as string).codePointAt(0) as number;
    let next = last + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000;
    if (next <= 0x10ffff) return points.join('') + String.fromCodePoint(next);
  }
  return undefined;
}

function actionWhere(
  filter: ActionFilter,
  dialect: Dialect,
  alias = '',
): { where: string[]; params: SqlValue[] } {
  const where: string[] = [];
  const params: SqlValue[] = [];
  const column = (name: string) => `${alias}${name}`;
  if (filter.agentId) {
    where.push(`${column('agent_id')} = ?`);
    params.push(filter.agentId);
  }
  if (filter.environment) {
    where.push(`${column('environment')} = ?`);
    params.push(filter.environment);
  }
  if (filter.tool) {
    // Byte-wise comparisons, which the tool index answers (PostgreSQL: its "C" collation).
    const tool =
      dialect === 'postgres' ? `${column('tool_name')} COLLATE "C"` : column('tool_name');
    if (filter.tool.endsWith('*')) {
      const prefix = filter.tool.slice(0, -1);
      if (prefix !== '') {
        where.push(`${tool} >= ?`);
        params.push(prefix);
        const upper = prefixUpperBound(prefix);
        if (upper !== undefined) {
          where.push(`${tool} < ?`);
          params.push(upper);
        }
      }
    } else {
      where.push(`${tool} = ?`);
      params.push(filter.tool);
    }
  }
  // Decisions and statuses are few known words, written into the SQL as literals (after
  // checking them): SQLite uses a partial index only for a literal match of its condition.
  const decision = isEffect(filter.decision) ? filter.decision : undefined;
  if (filter.decision !== undefined && decision === undefined) where.push('1 = 0');
  if (decision) where.push(`${column('decision')} = '${decision}'`);
  let statuses: ActionStatus[] | undefined;
  if (filter.status !== undefined) {
    const asked = Array.isArray(filter.status) ? filter.status : [filter.status];
    if (asked.length > 0) {
      statuses = asked.filter((status) => actionStatuses.includes(status));
      if (statuses.length === 0) where.push('1 = 0');
      else if (statuses.length === 1) where.push(`${column('status')} = '${statuses[0]}'`);
      else
        where.push(
          `${column('status')} IN (${statuses.map((status) => `'${status}'`).join(', ')})`,
        );
    }
  }
  // Only held or blocked calls: say so in the words of the "attention" partial index.
  if (
    (decision !== undefined && decision !== 'allow') ||
    (statuses !== undefined && statuses.length > 0 && !statuses.includes('completed'))
  ) {
    where.push(`${column('decision')} <> 'allow'`);
  }
  if (filter.sessionId) {
    where.push(`${column('session_id')} = ?`);
    params.push(filter.sessionId);
  }
  if (filter.from !== undefined) {
    where.push(`${column('created_at')} >= ?`);
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    where.push(`${column('created_at')} < ?`);
    params.push(filter.to);
  }
  return { where, params };
}

const insertActionSql = `INSERT INTO actions (id, agent_id, environment, tool_name, args, kwargs,
  metadata, session_id, decision, reason, policy, status, expires_at, on_timeout, decided_by,
  decided_at, notes, result_status, duration_ms, result_error, result, reported_at, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

// A time window holding fewer rows than this is read through the created_at index.
const narrowWindow = 20_000;

/** The action log: inserts (batched by the group committer), reads, decisions and expiry. */
export function actionRepository(db: Queryable) {
  // SQLite reports the new seq itself; PostgreSQL has to be asked for it.
  const insertSql =
    db.dialect === 'postgres' ? `${insertActionSql} RETURNING seq` : insertActionSql;
  /**
   * How to read rows of `filter` newest (or oldest) first. Without a time window, in `seq`
   * order. With a narrow one (estimated from the sequence numbers at its two ends — two index
   * seeks; the log is written in time order, give or take a moment), through the created_at
   * index, then sorted: planners otherwise walk the whole log in `seq` order looking for rows
   * of, say, one day two months ago. Only the plan changes: the filter is the same.
   */
  async function readPlan(
    filter: ActionFilter,
    descending: boolean,
  ): Promise<{ from: string; order: string }> {
    const direction = descending ? 'DESC' : 'ASC';
    const plain = { from: 'actions', order: `seq ${direction}` };
    if ((filter.from === undefined && filter.to === undefined) || filter.sessionId) return plain;
    const low =
      filter.from === undefined
        ? 0
        : (
            await db.get<{ seq: number }>(
              'SELECT seq FROM actions WHERE created_at >= ? ORDER BY created_at LIMIT 1',
              [filter.from],
            )
          )?.seq;
    const high =
      filter.to === undefined
        ? (await db.get<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM actions'))?.seq
        : (
            await db.get<{ seq: number }>(
              'SELECT seq FROM actions WHERE created_at < ? ORDER BY created_at DESC LIMIT 1',
              [filter.to],
            )
          )?.seq;
    const rows = low == null || high == null ? 0 : Math.max(0, Number(high) - Number(low));
    if (rows >= narrowWindow) return plain;
    return db.dialect === 'sqlite'
      ? { from: 'actions INDEXED BY actions_scale_created', order: `seq ${direction}` }
      : { from: 'actions', order: `seq + 0 ${direction}` };
  }

  return {
    /** The INSERT of a new action, for the group committer. */
    insertStatement(action: NewAction): Statement {
      return {
        sql: insertSql,
        params: [
          action.id,
          action.agentId,
          action.environment,
          action.toolName,
          action.argsJson ?? JSON.stringify(action.args),
          action.kwargsJson ?? JSON.stringify(action.kwargs),
          action.metadataJson !== undefined ? action.metadataJson : jsonOrNull(action.metadata),
          action.sessionId,
          action.decision,
          action.reason,
          jsonOrNull(action.policy),
          action.status,
          action.expiresAt,
          action.onTimeout,
          action.decidedBy,
          action.decidedAt,
          action.notes,
          action.resultStatus,
          action.durationMs,
          action.resultError,
          jsonOrNull(action.result),
          action.reportedAt,
          action.createdAt,
        ],
      };
    },
    async insert(action: NewAction): Promise<void> {
      const statement = this.insertStatement(action);
      await db.run(statement.sql, statement.params);
    },
    async get(id: string): Promise<ActionRecord | undefined> {
      const row = await db.get('SELECT * FROM actions WHERE id = ?', [id]);
      return row ? toAction(row) : undefined;
    },
    /** Newest first (or oldest first with `order: 'asc'`), `limit` per page (max 500). */
    async list(
      filter: ActionFilter = {},
      options: { cursor?: string; limit?: number; order?: 'asc' | 'desc' } = {},
    ): Promise<Page<ActionRecord>> {
      const limit = clampLimit(options.limit);
      const { where, params } = actionWhere(filter, db.dialect);
      const ascending = options.order === 'asc';
      const after = decodeCursor(options.cursor);
      if (after !== undefined) {
        where.push(ascending ? 'seq > ?' : 'seq < ?');
        params.push(after);
      }
      const plan = await readPlan(filter, !ascending);
      const rows = await db.all(
        `SELECT * FROM ${plan.from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY ${plan.order} LIMIT ?`,
        [...params, limit + 1],
      );
      return page(rows.map(toAction), limit);
    },
    async count(filter: ActionFilter = {}): Promise<number> {
      const { where, params } = actionWhere(filter, db.dialect);
      const row = await db.get<{ count: number }>(
        `SELECT COUNT(*) AS count FROM actions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
        params,
      );
      return Number(row?.count ?? 0);
    },
    /**
     * Records a human decision if the action is still pending and not overdue; returns the
     * updated action, or undefined when someone else decided first (or it expired).
     */
    async decide(
      id: string,
      decision: { status: 'approved' | 'denied'; decidedBy: string | null; notes: string | null },
      now: number,
    ): Promise<ActionRecord | undefined> {
      const row = await db.get(
        `UPDATE actions SET status = ?, decided_by = ?, decided_at = ?, notes = ?
         WHERE id = ? AND status = 'pending' AND (expires_at IS NULL OR expires_at > ?)
         RETURNING *`,
        [decision.status, decision.decidedBy, now, decision.notes, id, now],
      );
      return row ? toAction(row) : undefined;
    },
    /** Marks an overdue pending action expired; undefined when it was decided meanwhile. */
    async expire(id: string, now: number, notes: string): Promise<ActionRecord | undefined> {
      const row = await db.get(
        `UPDATE actions SET status = 'expired', decided_at = ?, notes = ?
         WHERE id = ? AND status = 'pending' AND expires_at <= ? RETURNING *`,
        [now, notes, id, now],
      );
      return row ? toAction(row) : undefined;
    },
    /** Actions by id (those that exist), in no particular order. */
    async getMany(ids: readonly string[]): Promise<ActionRecord[]> {
      if (ids.length === 0) return [];
      const rows = await db.all(
        `SELECT * FROM actions WHERE id IN (${ids.map(() => '?').join(', ')})`,
        ids as string[],
      );
      return rows.map(toAction);
    },
    /**
     * Pending actions whose approval window has passed, oldest first, locked for the caller's
     * transaction. On PostgreSQL rows another replica's sweeper holds are skipped (`SKIP
     * LOCKED`), so sweepers on every replica share the work instead of queueing on it.
     */
    async lockOverdue(now: number, limit = 100): Promise<ActionRecord[]> {
      const lock = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const rows = await db.all(
        `SELECT * FROM actions WHERE status = 'pending' AND expires_at <= ?
         ORDER BY expires_at LIMIT ? ${lock}`,
        [now, limit],
      );
      return rows.map(toAction);
    },
    /**
     * Deletes up to `limit` actions created before `cutoff` (never pending ones), oldest first;
     * returns how many. On PostgreSQL rows another replica is deleting are skipped.
     */
    async purgeOlderThan(cutoff: number, limit: number): Promise<number> {
      const lock = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const result = await db.run(
        `DELETE FROM actions WHERE seq IN (
           SELECT seq FROM actions WHERE created_at < ? AND status <> 'pending'
           ORDER BY created_at LIMIT ? ${lock})`,
        [cutoff, limit],
      );
      return result.changes;
    },
    /** Ids of pending actions whose approval window has passed. */
    async listOverdue(now: number, limit = 100): Promise<string[]> {
      const rows = await db.all<{ id: string }>(
        `SELECT id FROM actions WHERE status = 'pending' AND expires_at <= ?
         ORDER BY expires_at LIMIT ?`,
        [now, limit],
      );
      return rows.map((row) => row.id);
    },
    /** The earliest expiry among pending actions, to time the sweeper. */
    async nextExpiry(): Promise<number | undefined> {
      const row = await db.get<{ at: number | null }>(
        `SELECT MIN(expires_at) AS at FROM actions WHERE status = 'pending'`,
      );
      return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
    },
    /**
     * The UPDATE that records a call's outcome, for the group committer. It only matches an
     * action of this agent and environment that was allowed to run (0 changes otherwise).
     */
    reportResultStatement(
      id: string,
      agentId: string,
      environment: Environment,
      report: {
        status: 'succeeded' | 'failed';
        durationMs: number | null;
        error: string | null;
        result: unknown;
      },
      now: number,
    ): Statement {
      return {
        sql: `UPDATE actions SET result_status = ?, duration_ms = ?, result_error = ?, result = ?,
                reported_at = ?
              WHERE id = ? AND agent_id = ? AND environment = ?
                AND (status = 'approved' OR (status = 'completed' AND decision = 'allow')
                  OR (status = 'expired' AND on_timeout = 'allow'))`,
        params: [
          report.status,
          report.durationMs,
          report.error,
          jsonOrNull(report.result),
          now,
          id,
          agentId,
          environment,
        ],
      };
    },
    /**
     * Sessions with their action counts and token cost, most recently active first (by their
     * latest action within the filter). Reads the log newest first until it has a page of
     * sessions, then sums just those sessions through the session index — never the whole log.
     * The cursor is the position of the last session returned.
     */
    async listSessions(
      filter: SessionFilter = {},
      options: { cursor?: string; limit?: number } = {},
    ): Promise<Page<SessionSummary>> {
      const limit = clampLimit(options.limit);
      const before = decodeCursor(options.cursor);
      const key = (row: Row) => `${row.session_id}\u0000${row.agent_id}\u0000${row.environment}`;
      // Sessions found, in order of their latest matching action.
      const found: {
        key: string;
        sessionId: string;
        agentId: string;
        environment: string;
        last: number;
      }[] = [];
      const seen = new Set<string>();
      let scanFrom = before;
      const chunk = 2_000;
      const plan = await readPlan(filter, true);
      while (found.length <= limit) {
        const { where, params } = actionWhere(filter, db.dialect);
        where.push('session_id IS NOT NULL');
        if (scanFrom !== undefined) {
          where.push('seq < ?');
          params.push(scanFrom);
        }
        const rows = await db.all<Row>(
          `SELECT seq, session_id, agent_id, environment FROM ${plan.from}
           WHERE ${where.join(' AND ')} ORDER BY ${plan.order} LIMIT ?`,
          [...params, chunk],
        );
        const candidates: typeof found = [];
        for (const row of rows) {
          const id = key(row);
          if (seen.has(id)) continue;
          seen.add(id);
          candidates.push({
            key: id,
            sessionId: String(row.session_id),
            agentId: String(row.agent_id),
            environment: String(row.environment),
            last: Number(row.seq),
          });
        }
        if (before !== undefined && candidates.length > 0) {
          // On a later page, a session met again here was shown already if it has a matching
          // action at or after the cursor.
          const shown = new Set<string>();
          const ids = [...new Set(candidates.map((candidate) => candidate.sessionId))];
          for (let start = 0; start < ids.length; start += 500) {
            const slice = ids.slice(start, start + 500);
            const { where: again, params: againParams } = actionWhere(filter, db.dialect);
            again.push(`session_id IN (${slice.map(() => '?').join(', ')})`, 'seq >= ?');
            const rowsAgain = await db.all<Row>(
              `SELECT DISTINCT session_id, agent_id, environment FROM actions
               WHERE ${again.join(' AND ')}`,
              [...againParams, ...slice, before],
            );
            for (const row of rowsAgain) shown.add(key(row));
          }
          for (const candidate of candidates) if (!shown.has(candidate.key)) found.push(candidate);
        } else {
          found.push(...candidates);
        }
        if (rows.length < chunk) break;
        scanFrom = Number(rows[rows.length - 1]?.seq);
      }
      const more = found.length > limit;
      const selected = found.slice(0, limit);
      const summaries = new Map<string, SessionSummary>();
      const costs = new Map<string, { tokens: number; cost: number }>();
      if (selected.length > 0) {
        const ids = [...new Set(selected.map((entry) => entry.sessionId))];
        const list = ids.map(() => '?').join(', ');
        const { where, params } = actionWhere(filter, db.dialect);
        where.push(`session_id IN (${list})`);
        const rows = await db.all<Row>(
          `SELECT session_id, agent_id, environment, COUNT(*) AS actions,
             SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
             SUM(CASE WHEN decision = 'block' THEN 1 ELSE 0 END) AS blocked,
             MIN(created_at) AS first_at, MAX(created_at) AS last_at
           FROM actions WHERE ${where.join(' AND ')}
           GROUP BY session_id, agent_id, environment`,
          [...params, ...ids],
        );
        for (const row of rows) {
          summaries.set(key(row), {
            sessionId: String(row.session_id),
            agentId: String(row.agent_id),
            environment: row.environment as Environment,
            actions: Number(row.actions),
            pending: Number(row.pending ?? 0),
            blocked: Number(row.blocked ?? 0),
            firstAt: Number(row.first_at),
            lastAt: Number(row.last_at),
            totalTokens: 0,
            costUsd: 0,
          });
        }
        const usageRows = await db.all<Row>(
          `SELECT session_id, agent_id, environment,
             SUM(prompt_tokens + completion_tokens) AS tokens, SUM(cost_usd) AS cost
           FROM usage WHERE session_id IN (${list})
           GROUP BY session_id, agent_id, environment`,
          ids,
        );
        for (const row of usageRows) {
          costs.set(key(row), { tokens: Number(row.tokens ?? 0), cost: Number(row.cost ?? 0) });
        }
      }
      const items = selected.flatMap((entry) => {
        const summary = summaries.get(entry.key);
        if (!summary) return [];
        const usage = costs.get(entry.key);
        return [{ ...summary, totalTokens: usage?.tokens ?? 0, costUsd: usage?.cost ?? 0 }];
      });
      const last = selected[selected.length - 1];
      return { items, nextCursor: more && last ? encodeCursor(last.last) : undefined };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Usage

function toUsage(row: Row): UsageRecord {
  return {
    seq: Number(row.seq),
    id: String(row.id),
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    sessionId: text(row.session_id),
    model: String(row.model),
    promptTokens: Number(row.prompt_tokens),
    completionTokens: Number(row.completion_tokens),
    costUsd: Number(row.cost_usd),
    rateFound: Number(row.rate_found) === 1,
    createdAt: Number(row.created_at),
  };
}

/** Filters of usage listings and aggregations. Times in ms; `to` is exclusive. */
export interface UsageFilter {
  agentId?: string;
  environment?: Environment;
  sessionId?: string;
  model?: string;
  from?: number;
  to?: number;
}

/** What usage can be grouped by. `day` is the UTC calendar day. */
export type UsageGrouping = 'model' | 'day' | 'session' | 'agent';

/** One group of usage: tokens and cost summed. */
export interface UsageAggregate {
  /** The model, day (`YYYY-MM-DD`), session id or agent id; null for usage without a session. */
  key: string | null;
  /** For `agent`: the agent's name. */
  label?: string;
  events: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
  /** Events whose model had no price (counted at cost 0). */
  unpricedEvents: number;
}

const dayMilliseconds = 86_400_000;

function usageWhere(filter: UsageFilter): { where: string[]; params: SqlValue[] } {
  const where: string[] = [];
  const params: SqlValue[] = [];
  const add = (clause: string, value: SqlValue | undefined) => {
    if (value === undefined) return;
    where.push(clause);
    params.push(value);
  };
  add('u.agent_id = ?', filter.agentId);
  add('u.environment = ?', filter.environment);
  add('u.session_id = ?', filter.sessionId);
  add('u.model = ?', filter.model);
  add('u.created_at >= ?', filter.from);
  add('u.created_at < ?', filter.to);
  return { where, params };
}

interface Sums {
  events: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  unpricedEvents: number;
}

const dailyUpsertSql = `INSERT INTO usage_daily (day, agent_id, environment, model, events,
    prompt_tokens, completion_tokens, cost_usd, unpriced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (day, agent_id, environment, model) DO UPDATE SET
    events = usage_daily.events + excluded.events,
    prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
    cost_usd = usage_daily.cost_usd + excluded.cost_usd,
    unpriced = usage_daily.unpriced + excluded.unpriced`;

/**
 * How a time range splits for the daily totals: whole UTC days (`firstDay` to before `endDay`,
 * either open) read from `usage_daily`, and the partial days at its ends read from the events.
 */
function splitRange(from: number | undefined, to: number | undefined) {
  const firstDay = from === undefined ? undefined : Math.ceil(from / dayMilliseconds);
  const endDay = to === undefined ? undefined : Math.floor(to / dayMilliseconds);
  if (firstDay !== undefined && endDay !== undefined && firstDay >= endDay) {
    return { days: undefined, edges: [{ from, to }] };
  }
  const edges: { from: number | undefined; to: number | undefined }[] = [];
  if (from !== undefined && firstDay !== undefined && from < firstDay * dayMilliseconds) {
    edges.push({ from, to: firstDay * dayMilliseconds });
  }
  if (to !== undefined && endDay !== undefined && endDay * dayMilliseconds < to) {
    edges.push({ from: endDay * dayMilliseconds, to });
  }
  return { days: { firstDay, endDay }, edges };
}

/** Token usage events and their aggregations. */
export function usageRepository(db: Queryable) {
  // Sums grouped by `groupBy` (or all together), from the daily totals and the events at the
  // partial days of the range. Not for session filters or grouping (the totals have none).
  async function summed(
    groupBy: Exclude<UsageGrouping, 'session'> | undefined,
    filter: UsageFilter,
  ): Promise<Map<string, Sums>> {
    const groups = new Map<string, Sums>();
    const add = (key: string, row: Row) => {
      const sums = groups.get(key) ?? {
        events: 0,
        promptTokens: 0,
        completionTokens: 0,
        costUsd: 0,
        unpricedEvents: 0,
      };
      sums.events += Number(row.events ?? 0);
      sums.promptTokens += Number(row.prompt_tokens ?? 0);
      sums.completionTokens += Number(row.completion_tokens ?? 0);
      sums.costUsd += Number(row.cost_usd ?? 0);
      sums.unpricedEvents += Number(row.unpriced ?? 0);
      groups.set(key, sums);
    };
    const { days, edges } = splitRange(filter.from, filter.to);
    if (days) {
      const where: string[] = [];
      const params: SqlValue[] = [];
      const condition = (clause: string, value: SqlValue | undefined) => {
        if (value === undefined) return;
        where.push(clause);
        params.push(value);
      };
      condition('agent_id = ?', filter.agentId);
      condition('environment = ?', filter.environment);
      condition('model = ?', filter.model);
      condition('day >= ?', days.firstDay);
      condition('day < ?', days.endDay);
      const key =
        groupBy === undefined ? "''" : { model: 'model', day: 'day', agent: 'agent_id' }[groupBy];
      const rows = await db.all<Row>(
        `SELECT ${key} AS key, SUM(events) AS events, SUM(prompt_tokens) AS prompt_tokens,
           SUM(completion_tokens) AS completion_tokens, SUM(cost_usd) AS cost_usd,
           SUM(unpriced) AS unpriced
         FROM usage_daily ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ${groupBy === undefined ? '' : `GROUP BY ${key}`}`,
        params,
      );
      for (const row of rows) if (Number(row.events ?? 0) > 0) add(String(row.key), row);
    }
    for (const edge of edges) {
      const { where, params } = usageWhere({ ...filter, from: edge.from, to: edge.to });
      const key =
        groupBy === undefined
          ? "''"
          : { model: 'u.model', day: `u.created_at / ${dayMilliseconds}`, agent: 'u.agent_id' }[
              groupBy
            ];
      const rows = await db.all<Row>(
        `SELECT ${key} AS key, COUNT(*) AS events, SUM(u.prompt_tokens) AS prompt_tokens,
           SUM(u.completion_tokens) AS completion_tokens, SUM(u.cost_usd) AS cost_usd,
           SUM(1 - u.rate_found) AS unpriced
         FROM usage u ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ${groupBy === undefined ? '' : `GROUP BY ${key}`}`,
        params,
      );
      for (const row of rows) if (Number(row.events) > 0) add(String(row.key), row);
    }
    return groups;
  }

  function aggregateOf(key: string | null, sums: Sums): UsageAggregate {
    return {
      key,
      events: sums.events,
      promptTokens: sums.promptTokens,
      completionTokens: sums.completionTokens,
      totalTokens: sums.promptTokens + sums.completionTokens,
      costUsd: sums.costUsd,
      unpricedEvents: sums.unpricedEvents,
    };
  }

  return {
    /**
     * The statements that store usage events: the events, and their addition to the daily
     * totals (marked with a `lockKey`, so the group committer runs them last, in one order).
     * Commit them together (`committer.submitAll`).
     */
    writeStatements(records: readonly Omit<UsageRecord, 'seq'>[]): Statement[] {
      const totals = new Map<string, SqlValue[]>();
      for (const record of records) {
        const day = Math.floor(record.createdAt / dayMilliseconds);
        const key = `${day}\u0000${record.agentId}\u0000${record.environment}\u0000${record.model}`;
        const sums = totals.get(key) ?? [
          day,
          record.agentId,
          record.environment,
          record.model,
          0,
          0,
          0,
          0,
          0,
        ];
        sums[4] = Number(sums[4]) + 1;
        sums[5] = Number(sums[5]) + record.promptTokens;
        sums[6] = Number(sums[6]) + record.completionTokens;
        sums[7] = Number(sums[7]) + record.costUsd;
        sums[8] = Number(sums[8]) + (record.rateFound ? 0 : 1);
        totals.set(key, sums);
      }
      return [
        ...records.map((record) => this.insertStatement(record)),
        ...[...totals.entries()].map(([key, params]) => ({
          sql: dailyUpsertSql,
          params,
          lockKey: `usage_daily\u0000${key}`,
        })),
      ];
    },
    /** Usage summed by model, UTC day, session or agent; biggest cost first (days in order). */
    async aggregate(
      groupBy: UsageGrouping,
      filter: UsageFilter = {},
      options: { limit?: number } = {},
    ): Promise<UsageAggregate[]> {
      if (groupBy === 'session' || filter.sessionId !== undefined) {
        return this.aggregateRaw(groupBy, filter, options);
      }
      const groups = await summed(groupBy, filter);
      let items = [...groups.entries()].map(([key, sums]) =>
        aggregateOf(
          groupBy === 'day'
            ? new Date(Number(key) * dayMilliseconds).toISOString().slice(0, 10)
            : key,
          sums,
        ),
      );
      items.sort((a, b) =>
        groupBy === 'day'
          ? String(a.key) < String(b.key)
            ? -1
            : 1
          : b.costUsd - a.costUsd || b.events - a.events,
      );
      items = items.slice(0, clampLimit(options.limit, 1000, 10_000));
      if (groupBy === 'agent' && items.length > 0) {
        const names = await db.all<{ id: string; name: string }>(
          `SELECT id, name FROM agents WHERE id IN (${items.map(() => '?').join(', ')})`,
          items.map((item) => item.key as string),
        );
        const byId = new Map(names.map((row) => [String(row.id), String(row.name)]));
        for (const item of items) item.label = byId.get(item.key as string);
      }
      return items;
    },
    /** Totals over the filter. */
    async totals(filter: UsageFilter = {}): Promise<Omit<UsageAggregate, 'key'>> {
      if (filter.sessionId !== undefined) return this.totalsRaw(filter);
      const sums = (await summed(undefined, filter)).get('') ?? {
        events: 0,
        promptTokens: 0,
        completionTokens: 0,
        costUsd: 0,
        unpricedEvents: 0,
      };
      const { key: _key, ...totals } = aggregateOf(null, sums);
      return totals;
    },
    /**
     * Recomputes the daily totals from the usage events (after usage rows were written some
     * other way than `writeStatements`, such as a bulk import). Run it in a transaction.
     */
    async rebuildDaily(): Promise<void> {
      await db.run('DELETE FROM usage_daily');
      await db.run(
        `INSERT INTO usage_daily (day, agent_id, environment, model, events, prompt_tokens,
           completion_tokens, cost_usd, unpriced)
         SELECT created_at / ${dayMilliseconds}, agent_id, environment, model, COUNT(*),
           SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), SUM(1 - rate_found)
         FROM usage GROUP BY created_at / ${dayMilliseconds}, agent_id, environment, model`,
      );
    },
    /** Deletes the daily totals of days before `day` (days since the epoch); returns how many. */
    async purgeDailyBefore(day: number): Promise<number> {
      return (await db.run('DELETE FROM usage_daily WHERE day < ?', [day])).changes;
    },
    /** The INSERT of one usage event alone; `writeStatements` adds the daily totals. */
    insertStatement(usage: Omit<UsageRecord, 'seq'>): Statement {
      return {
        sql: `INSERT INTO usage (id, agent_id, environment, session_id, model, prompt_tokens,
                completion_tokens, cost_usd, rate_found, created_at)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        params: [
          usage.id,
          usage.agentId,
          usage.environment,
          usage.sessionId,
          usage.model,
          usage.promptTokens,
          usage.completionTokens,
          usage.costUsd,
          usage.rateFound ? 1 : 0,
          usage.createdAt,
        ],
      };
    },
    async list(
      filter: UsageFilter = {},
      options: { cursor?: string; limit?: number } = {},
    ): Promise<Page<UsageRecord>> {
      const limit = clampLimit(options.limit);
      const { where, params } = usageWhere(filter);
      const before = decodeCursor(options.cursor);
      if (before !== undefined) {
        where.push('u.seq < ?');
        params.push(before);
      }
      const rows = await db.all(
        `SELECT u.* FROM usage u ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY u.seq DESC LIMIT ?`,
        [...params, limit + 1],
      );
      return page(rows.map(toUsage), limit);
    },
    /**
     * Usage summed by model, UTC day, session or agent over the usage events themselves (what
     * `aggregate` does for sessions; kept to check the daily totals against).
     */
    async aggregateRaw(
      groupBy: UsageGrouping,
      filter: UsageFilter = {},
      options: { limit?: number } = {},
    ): Promise<UsageAggregate[]> {
      const { where, params } = usageWhere(filter);
      const key = {
        model: 'u.model',
        day: `u.created_at / ${dayMilliseconds}`,
        session: 'u.session_id',
        agent: 'u.agent_id',
      }[groupBy];
      const join = groupBy === 'agent' ? 'LEFT JOIN agents a ON a.id = u.agent_id' : '';
      const label = groupBy === 'agent' ? ', MAX(a.name) AS label' : '';
      const rows = await db.all<Row>(
        `SELECT ${key} AS key${label}, COUNT(*) AS events,
           SUM(u.prompt_tokens) AS prompt_tokens, SUM(u.completion_tokens) AS completion_tokens,
           SUM(u.cost_usd) AS cost_usd, SUM(1 - u.rate_found) AS unpriced
         FROM usage u ${join} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         GROUP BY ${key}
         ORDER BY ${groupBy === 'day' ? 'key ASC' : 'cost_usd DESC, events DESC'} LIMIT ?`,
        [...params, clampLimit(options.limit, 1000, 10_000)],
      );
      return rows.map((row) => {
        const promptTokens = Number(row.prompt_tokens ?? 0);
        const completionTokens = Number(row.completion_tokens ?? 0);
        const aggregate: UsageAggregate = {
          key:
            groupBy === 'day'
              ? new Date(Number(row.key) * dayMilliseconds).toISOString().slice(0, 10)
              : text(row.key),
          events: Number(row.events),
          promptTokens,
          completionTokens,
          totalTokens: promptTokens + completionTokens,
          costUsd: Number(row.cost_usd ?? 0),
          unpricedEvents: Number(row.unpriced ?? 0),
        };
        if (groupBy === 'agent') aggregate.label = text(row.label) ?? undefined;
        return aggregate;
      });
    },
    /** Deletes up to `limit` usage events from before `cutoff`, oldest first; returns how many. */
    async purgeOlderThan(cutoff: number, limit: number): Promise<number> {
      const lock = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const result = await db.run(
        `DELETE FROM usage WHERE seq IN (
           SELECT seq FROM usage WHERE created_at < ? ORDER BY created_at LIMIT ? ${lock})`,
        [cutoff, limit],
      );
      return result.changes;
    },
    /** Totals over the usage events themselves. */
    async totalsRaw(filter: UsageFilter = {}): Promise<Omit<UsageAggregate, 'key'>> {
      const { where, params } = usageWhere(filter);
      const row = await db.get<Row>(
        `SELECT COUNT(*) AS events, SUM(u.prompt_tokens) AS prompt_tokens,
           SUM(u.completion_tokens) AS completion_tokens, SUM(u.cost_usd) AS cost_usd,
           SUM(1 - u.rate_found) AS unpriced
         FROM usage u ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
        params,
      );
      const promptTokens = Number(row?.prompt_tokens ?? 0);
      const completionTokens = Number(row?.completion_tokens ?? 0);
      return {
        events: Number(row?.events ?? 0),
        promptTokens,
        completionTokens,
        totalTokens: promptTokens + completionTokens,
        costUsd: Number(row?.cost_usd ?? 0),
        unpricedEvents: Number(row?.unpriced ?? 0),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Webhook outbox

function toDelivery(row: Row): DeliveryRecord {
  return {
    id: String(row.id),
    eventId: String(row.event_id),
    agentId: String(row.agent_id),
    actionId: text(row.action_id),
    eventType: String(row.event_type),
    url: String(row.url),
    payload: String(row.payload),
    status: row.status as DeliveryStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    leaseOwner: text(row.lease_owner),
    leaseUntil: int(row.lease_until),
    lastStatus: int(row.last_status),
    lastError: text(row.last_error),
    createdAt: Number(row.created_at),
    deliveredAt: int(row.delivered_at),
  };
}

function toAttempt(row: Row): DeliveryAttemptRecord {
  return {
    id: String(row.id),
    outboxId: String(row.outbox_id),
    attempt: Number(row.attempt),
    statusCode: int(row.status_code),
    error: text(row.error),
    durationMs: Number(row.duration_ms),
    at: Number(row.at),
  };
}

/** Filters of delivery listings. */
export interface DeliveryFilter {
  agentId?: string;
  actionId?: string;
  status?: DeliveryStatus;
}

/** The durable webhook outbox and its attempt log. */
export function webhookRepository(db: Queryable) {
  return {
    async enqueue(
      delivery: Omit<
        DeliveryRecord,
        'leaseOwner' | 'leaseUntil' | 'lastStatus' | 'lastError' | 'deliveredAt'
      > & { lastError?: string | null },
    ): Promise<void> {
      await db.run(
        `INSERT INTO webhook_outbox (id, event_id, agent_id, action_id, event_type, url, payload,
           status, attempts, next_attempt_at, created_at, last_error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          delivery.id,
          delivery.eventId,
          delivery.agentId,
          delivery.actionId,
          delivery.eventType,
          delivery.url,
          delivery.payload,
          delivery.status,
          delivery.attempts,
          delivery.nextAttemptAt,
          delivery.createdAt,
          delivery.lastError ?? null,
        ],
      );
    },
    /**
     * Leases up to `limit` due deliveries to `owner` until `now + leaseMs`. A lease that ran out
     * (its worker died) can be claimed again; on PostgreSQL, `SKIP LOCKED` keeps concurrent
     * replicas from claiming the same rows.
     */
    async claimDue(
      owner: string,
      now: number,
      leaseMs: number,
      limit: number,
    ): Promise<DeliveryRecord[]> {
      const skipLocked = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const rows = await db.all(
        `UPDATE webhook_outbox SET lease_owner = ?, lease_until = ?
         WHERE id IN (
           SELECT id FROM webhook_outbox
           WHERE status = 'pending' AND next_attempt_at <= ?
             AND (lease_until IS NULL OR lease_until <= ?)
           ORDER BY next_attempt_at LIMIT ? ${skipLocked})
         RETURNING *`,
        [owner, now + leaseMs, now, now, limit],
      );
      return rows.map(toDelivery);
    },
    /** Records an attempt's outcome and releases the lease (only if `owner` still holds it). */
    async settle(
      id: string,
      owner: string,
      outcome: {
        status: DeliveryStatus;
        attempts: number;
        nextAttemptAt: number;
        lastStatus: number | null;
        lastError: string | null;
        deliveredAt: number | null;
        /** The URL the attempt went to (the agent's URL when it was sent). */
        url?: string;
      },
    ): Promise<boolean> {
      const result = await db.run(
        `UPDATE webhook_outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?,
           last_error = ?, delivered_at = ?, url = COALESCE(?, url), lease_owner = NULL,
           lease_until = NULL
         WHERE id = ? AND lease_owner = ?`,
        [
          outcome.status,
          outcome.attempts,
          outcome.nextAttemptAt,
          outcome.lastStatus,
          outcome.lastError,
          outcome.deliveredAt,
          outcome.url ?? null,
          id,
          owner,
        ],
      );
      return result.changes > 0;
    },
    async recordAttempt(attempt: DeliveryAttemptRecord): Promise<void> {
      await db.run(
        `INSERT INTO webhook_attempts (id, outbox_id, attempt, status_code, error, duration_ms, at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [
          attempt.id,
          attempt.outboxId,
          attempt.attempt,
          attempt.statusCode,
          attempt.error,
          attempt.durationMs,
          attempt.at,
        ],
      );
    },
    async get(id: string): Promise<DeliveryRecord | undefined> {
      const row = await db.get('SELECT * FROM webhook_outbox WHERE id = ?', [id]);
      return row ? toDelivery(row) : undefined;
    },
    /** Newest first; the cursor is opaque. */
    async list(
      filter: DeliveryFilter = {},
      options: { cursor?: string; limit?: number } = {},
    ): Promise<Page<DeliveryRecord>> {
      const limit = clampLimit(options.limit);
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (filter.agentId) {
        where.push('agent_id = ?');
        params.push(filter.agentId);
      }
      if (filter.actionId) {
        where.push('action_id = ?');
        params.push(filter.actionId);
      }
      if (filter.status) {
        where.push('status = ?');
        params.push(filter.status);
      }
      const before = options.cursor ? Buffer.from(options.cursor, 'base64url').toString() : '';
      if (before) {
        where.push('id < ?');
        params.push(before);
      }
      const rows = await db.all(
        `SELECT * FROM webhook_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY id DESC LIMIT ?`,
        [...params, limit + 1],
      );
      const items = rows.slice(0, limit).map(toDelivery);
      const last = items[items.length - 1];
      return {
        items,
        nextCursor:
          rows.length > limit && last ? Buffer.from(last.id).toString('base64url') : undefined,
      };
    },
    async attempt(id: string): Promise<DeliveryAttemptRecord | undefined> {
      const row = await db.get('SELECT * FROM webhook_attempts WHERE id = ?', [id]);
      return row ? toAttempt(row) : undefined;
    },
    async attempts(outboxId: string): Promise<DeliveryAttemptRecord[]> {
      const rows = await db.all(
        'SELECT * FROM webhook_attempts WHERE outbox_id = ? ORDER BY attempt, at',
        [outboxId],
      );
      return rows.map(toAttempt);
    },
    /** Makes a delivery due now again (whatever its status), keeping its event id. */
    async redeliver(id: string, now: number): Promise<boolean> {
      const result = await db.run(
        `UPDATE webhook_outbox SET status = 'pending', next_attempt_at = ?, lease_owner = NULL,
           lease_until = NULL WHERE id = ?`,
        [now, id],
      );
      return result.changes > 0;
    },
    /**
     * Deletes up to `limit` settled (delivered or failed) deliveries created before `cutoff`,
     * with their attempts. Run it in a transaction.
     */
    async purgeSettled(
      cutoff: number,
      limit: number,
    ): Promise<{ deliveries: number; attempts: number }> {
      const lock = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
      const rows = await db.all<{ id: string }>(
        `SELECT id FROM webhook_outbox WHERE created_at < ? AND status <> 'pending'
         ORDER BY created_at LIMIT ? ${lock}`,
        [cutoff, limit],
      );
      if (rows.length === 0) return { deliveries: 0, attempts: 0 };
      const ids = rows.map((row) => row.id);
      const list = ids.map(() => '?').join(', ');
      const attempts = await db.run(
        `DELETE FROM webhook_attempts WHERE outbox_id IN (${list})`,
        ids,
      );
      const deliveries = await db.run(`DELETE FROM webhook_outbox WHERE id IN (${list})`, ids);
      return { deliveries: deliveries.changes, attempts: attempts.changes };
    },
    /** Counts by status (for health pages). */
    async countByStatus(): Promise<Record<DeliveryStatus, number>> {
      const rows = await db.all<{ status: DeliveryStatus; count: number }>(
        'SELECT status, COUNT(*) AS count FROM webhook_outbox GROUP BY status',
      );
      const counts: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, failed: 0 };
      for (const row of rows) counts[row.status] = Number(row.count);
      return counts;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Users, browser sessions, admin tokens

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

/** Every repository, bound to one database or transaction. */
export function repositories(db: Queryable) {
  return {
    agents: agentRepository(db),
    apiKeys: apiKeyRepository(db),
    policies: policyRepository(db),
    actions: actionRepository(db),
    usage: usageRepository(db),
    webhooks: webhookRepository(db),
    users: userRepository(db),
    userSessions: userSessionRepository(db),
    adminTokens: adminTokenRepository(db),
  };
}

/** The repositories of `repositories()`. */
export type Repositories = ReturnType<typeof repositories>;
