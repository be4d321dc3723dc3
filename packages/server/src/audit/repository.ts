import type { Environment } from '../crypto';
import { type ReceiptRecord, toReceipt } from '../receipts/repository';
import { sha256Hex } from '../receipts/service';
import type { Queryable, Row } from '../store/database';
import { int, text } from '../store/rows';

// The audit chain's state: one head per agent and environment (its last position and hash, and
// the anchor left by retention), and the signed checkpoints.

/** The head of one chain. */
export interface AuditHead {
  agentId: string;
  environment: Environment;
  position: number;
  hash: string;
  /** The last position deleted by retention (0: none), and its hash: verification starts there. */
  anchorPosition: number;
  anchorHash: string;
  /**
   * The retention cutoff of the last prune. Informational only: verification trusts the signed
   * anchor statements (audit_checkpoints), not these columns.
   */
  anchoredAt: number | null;
  checkpointAt: number | null;
}

/** A signed checkpoint of a chain, or a signed retention anchor (stored alike, exported alike). */
export interface AuditCheckpoint {
  agentId: string;
  environment: Environment;
  position: number;
  hash: string;
  /**
   * The compact JWS (EdDSA) of a checkpoint (`{v, type, agent_id, environment, position, hash,
   * at, entry_at}`) or of a retention anchor (`AnchorClaims`: position and hash are the anchor's).
   */
  checkpoint: string;
  createdAt: number;
}

/** What the sealer reads of a receipt not chained yet: what its chain entry covers. */
export interface UnsealedReceipt
  extends Pick<ReceiptRecord, 'seq' | 'agentId' | 'environment' | 'createdAt'> {
  /** The SHA-256 (hex) of the receipt's text: what its chain entry hashes (`entryHash`). */
  digest: string;
}

function toHead(row: Row): AuditHead {
  return {
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    position: Number(row.position),
    hash: String(row.hash),
    anchorPosition: Number(row.anchor_position),
    anchorHash: String(row.anchor_hash),
    anchoredAt: int(row.anchored_at),
    checkpointAt: int(row.checkpoint_at),
  };
}

function toCheckpoint(row: Row): AuditCheckpoint {
  return {
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    position: Number(row.position),
    hash: String(row.hash),
    checkpoint: String(row.checkpoint),
    createdAt: Number(row.created_at),
  };
}

/** The UPDATE chaining `rows` receipts at once on the embedded store (`sealMany`). */
function sealManySql(rows: number): string {
  return `UPDATE receipts SET chain_position = v.column2, chain_hash = v.column3
    FROM (VALUES ${Array.from({ length: rows }, () => '(?, ?, ?)').join(', ')}) AS v
    WHERE receipts.seq = v.column1`;
}

// The embedded store's three sizes of `sealMany` statement, written once (not per statement).
const sealManySqlBySize = new Map([64, 8, 1].map((size) => [size, sealManySql(size)]));

// PostgreSQL: one UPDATE for a whole seal, the receipts' places as one JSON parameter (numbers
// and hex text only, so JSON carries them exactly); a fixed text, prepared once per connection.
const sealManyPostgresSql = `UPDATE receipts AS r SET chain_position = v.position, chain_hash = v.hash
  FROM json_to_recordset(?::json) AS v(seq bigint, position bigint, hash text)
  WHERE r.seq = v.seq`;

// The unsealed receipts, oldest first. PostgreSQL hashes each receipt itself (`sha256`, 11 and
// later), so the sealer reads 64 characters a receipt instead of its whole text; the embedded
// store's receipt text costs no round trip, and SQLite has no SHA-256 of its own.
const unsealedSql = {
  sqlite: `SELECT seq, agent_id, environment, receipt, created_at FROM receipts
    WHERE chain_hash IS NULL ORDER BY seq LIMIT ?`,
  postgres: `SELECT seq, agent_id, environment,
      encode(sha256(convert_to(receipt, 'UTF8')), 'hex') AS digest, created_at
    FROM receipts WHERE chain_hash IS NULL ORDER BY seq LIMIT ?`,
};

// The PostgreSQL advisory lock that serialises the sealers of several replicas.
const sealLock = 8787018;

/** Audit chain heads, sealing and checkpoints. */
export function auditRepository(db: Queryable) {
  return {
    /** Inside a transaction: waits until no other replica is sealing (PostgreSQL). */
    async lockChains(): Promise<void> {
      if (db.dialect === 'postgres') await db.get('SELECT pg_advisory_xact_lock(?)', [sealLock]);
    },

    /**
     * Receipts not chained yet, oldest first: only what the sealer chains of each (under load it
     * reads every receipt once more).
     */
    async unsealed(limit: number): Promise<UnsealedReceipt[]> {
      const rows = await db.all<{
        seq: unknown;
        agent_id: unknown;
        environment: unknown;
        receipt?: unknown;
        digest?: unknown;
        created_at: unknown;
      }>(unsealedSql[db.dialect], [limit]);
      return rows.map((row) => ({
        seq: Number(row.seq),
        agentId: String(row.agent_id),
        environment: row.environment as Environment,
        digest: row.digest === undefined ? sha256Hex(String(row.receipt)) : String(row.digest),
        createdAt: Number(row.created_at),
      }));
    },

    /** Every chain head. */
    async heads(): Promise<AuditHead[]> {
      return (await db.all('SELECT * FROM audit_heads ORDER BY agent_id, environment')).map(toHead);
    },

    /**
     * Gives receipts their places in their chains, in the sealer's transaction: one statement on
     * PostgreSQL (one round trip for a whole seal, not one a receipt), UPDATEs of up to 64
     * receipts on the embedded store. Throws when a receipt is not there to chain (nothing
     * deletes an unsealed receipt but a hand): the transaction then rolls back rather than
     * leave its chain with a hole.
     */
    async sealMany(
      entries: readonly { seq: number; position: number; hash: string }[],
    ): Promise<void> {
      let changes = 0;
      if (db.dialect === 'postgres') {
        if (entries.length > 0) {
          changes = (await db.run(sealManyPostgresSql, [JSON.stringify(entries)])).changes;
        }
      } else {
        // A few sizes of statement only (64, 8, 1 rows): each size is prepared once and kept.
        let start = 0;
        while (start < entries.length) {
          const left = entries.length - start;
          const size = left >= 64 ? 64 : left >= 8 ? 8 : 1;
          const params: (number | string)[] = [];
          for (let index = start; index < start + size; index++) {
            const entry = entries[index] as { seq: number; position: number; hash: string };
            params.push(entry.seq, entry.position, entry.hash);
          }
          // VALUES names its columns column1, column2, column3.
          changes += (await db.run(sealManySqlBySize.get(size) as string, params)).changes;
          start += size;
        }
      }
      if (changes !== entries.length) {
        throw new Error(
          `The audit sealer could chain ${changes} of ${entries.length} receipts (the others are gone); this seal is rolled back.`,
        );
      }
    },

    /** Writes a chain head (position, hash, anchor, last checkpoint). */
    async saveHead(head: AuditHead): Promise<void> {
      await db.run(
        `INSERT INTO audit_heads (agent_id, environment, position, hash, anchor_position,
           anchor_hash, anchored_at, checkpoint_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_id, environment) DO UPDATE SET position = excluded.position,
           hash = excluded.hash, anchor_position = excluded.anchor_position,
           anchor_hash = excluded.anchor_hash, anchored_at = excluded.anchored_at,
           checkpoint_at = excluded.checkpoint_at`,
        [
          head.agentId,
          head.environment,
          head.position,
          head.hash,
          head.anchorPosition,
          head.anchorHash,
          head.anchoredAt,
          head.checkpointAt,
        ],
      );
    },

    /** Stores a signed checkpoint. */
    async addCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
      await db.run(
        `INSERT INTO audit_checkpoints (agent_id, environment, position, hash, checkpoint,
           created_at) VALUES (?, ?, ?, ?, ?, ?)`,
        [
          checkpoint.agentId,
          checkpoint.environment,
          checkpoint.position,
          checkpoint.hash,
          checkpoint.checkpoint,
          checkpoint.createdAt,
        ],
      );
    },

    /** Stored checkpoints, oldest first. */
    async checkpoints(filter: { agentId?: string; environment?: Environment } = {}) {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.agentId) {
        where.push('agent_id = ?');
        params.push(filter.agentId);
      }
      if (filter.environment) {
        where.push('environment = ?');
        params.push(filter.environment);
      }
      return (
        await db.all(
          `SELECT * FROM audit_checkpoints ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`,
          params,
        )
      ).map(toCheckpoint);
    },

    /** A chain's receipts after `afterPosition`, in chain order (at most `limit`). */
    async chain(
      agentId: string,
      environment: Environment,
      afterPosition: number,
      limit: number,
    ): Promise<ReceiptRecord[]> {
      return (
        await db.all(
          `SELECT * FROM receipts WHERE agent_id = ? AND environment = ? AND chain_position > ?
           ORDER BY chain_position LIMIT ?`,
          [agentId, environment, afterPosition, limit],
        )
      ).map(toReceipt);
    },

    /** The first position of a chain whose receipt is not older than `cutoff` (or undefined). */
    async firstPositionFrom(
      agentId: string,
      environment: Environment,
      cutoff: number,
    ): Promise<number | undefined> {
      const row = await db.get<{ position: unknown }>(
        `SELECT MIN(chain_position) AS position FROM receipts WHERE agent_id = ? AND
           environment = ? AND chain_position IS NOT NULL AND created_at >= ?`,
        [agentId, environment, cutoff],
      );
      return int(row?.position) ?? undefined;
    },

    /** The hash and time of the entry at one position of a chain (undefined: no such row). */
    async entryAt(
      agentId: string,
      environment: Environment,
      position: number,
    ): Promise<{ hash: string; createdAt: number } | undefined> {
      const row = await db.get<{ chain_hash: unknown; created_at: unknown }>(
        `SELECT chain_hash, created_at FROM receipts WHERE agent_id = ? AND environment = ?
           AND chain_position = ?`,
        [agentId, environment, position],
      );
      const hash = text(row?.chain_hash);
      return hash ? { hash, createdAt: Number(row?.created_at) } : undefined;
    },

    /** Deletes a chain's receipts up to `position` (retention); returns how many. */
    async deleteThrough(agentId: string, environment: Environment, position: number) {
      return (
        await db.run(
          'DELETE FROM receipts WHERE agent_id = ? AND environment = ? AND chain_position <= ?',
          [agentId, environment, position],
        )
      ).changes;
    },
  };
}
