import type { Environment } from '../crypto';
import type { Queryable, Row } from '../store/database';
import { parseJson } from '../store/json';
import type { PolicyRecord, PolicyVersionRecord } from '../store/records';
import { clampLimit, text } from '../store/rows';

// Policy sets and their versions: rows of `policies` and `policy_versions`.

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
