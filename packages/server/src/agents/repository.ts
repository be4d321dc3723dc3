import type { Environment } from '../crypto';
import type { Queryable, Row, SqlValue } from '../store/database';
import type { AgentRecord, ApiKeyRecord, Effect } from '../store/records';
import { int, text } from '../store/rows';

// The agents and their API keys: rows of `agents` and `api_keys`.

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
    ownerUserId: text(row.owner_user_id),
    webhookSensitiveInFull: Number(row.webhook_sensitive_in_full ?? 0) === 1,
  };
}

/** Fields of an agent that can be changed. */
export interface AgentPatch {
  name?: string;
  description?: string | null;
  defaultAction?: Effect;
  webhookUrl?: string | null;
  signingKey?: string;
  ownerUserId?: string | null;
  webhookSensitiveInFull?: boolean;
}

/** Agents: create, read, update, soft-delete. */
export function agentRepository(db: Queryable) {
  return {
    async insert(agent: AgentRecord): Promise<void> {
      await db.run(
        `INSERT INTO agents (id, name, description, default_action, webhook_url, signing_key,
           created_at, updated_at, deleted_at, owner_user_id, webhook_sensitive_in_full)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
          agent.ownerUserId ?? null,
          agent.webhookSensitiveInFull === true ? 1 : 0,
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
        ['ownerUserId', 'owner_user_id'],
      ];
      for (const [field, column] of columns) {
        if (patch[field] !== undefined) {
          sets.push(`${column} = ?`);
          params.push(patch[field] as SqlValue);
        }
      }
      if (patch.webhookSensitiveInFull !== undefined) {
        sets.push('webhook_sensitive_in_full = ?');
        params.push(patch.webhookSensitiveInFull ? 1 : 0);
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
           a.webhook_disabled_at, a.webhook_disabled_reason, a.owner_user_id,
           a.webhook_sensitive_in_full
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
