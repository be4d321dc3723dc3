import type { Environment } from '../crypto';
import type { Queryable, Row, SqlValue, Statement } from '../store/database';
import { unnestInsert } from '../store/multi-row';
import { int, text } from '../store/rows';

// Receipt signing keys and the stored receipts (one per decision, chained by the audit sealer).

/** A receipt signing key as stored: the private key is encrypted with the operator's secret. */
export interface ReceiptKeyRecord {
  kid: string;
  /** The raw Ed25519 public key, base64url (a JWK's `x`). */
  publicKey: string;
  /** `v1.<salt>.<iv>.<tag>.<ciphertext>` (AES-256-GCM under a scrypt key of the secret). */
  privateKey: string;
  createdAt: number;
  retiredAt: number | null;
}

/** A stored receipt, with its place in its agent's and environment's audit chain once sealed. */
export interface ReceiptRecord {
  seq: number;
  id: string;
  actionId: string;
  agentId: string;
  environment: Environment;
  decision: string;
  receipt: string;
  createdAt: number;
  chainPosition: number | null;
  chainHash: string | null;
}

/** A new receipt, as the check or a decision writes it. */
export type NewReceipt = Omit<ReceiptRecord, 'seq' | 'chainPosition' | 'chainHash'>;

function toKey(row: Row): ReceiptKeyRecord {
  return {
    kid: String(row.kid),
    publicKey: String(row.public_key),
    privateKey: String(row.private_key),
    createdAt: Number(row.created_at),
    retiredAt: int(row.retired_at),
  };
}

/** @internal Rows of `receipts` to records. */
export function toReceipt(row: Row): ReceiptRecord {
  return {
    seq: Number(row.seq),
    id: String(row.id),
    actionId: String(row.action_id),
    agentId: String(row.agent_id),
    environment: row.environment as Environment,
    decision: String(row.decision),
    receipt: String(row.receipt),
    createdAt: Number(row.created_at),
    chainPosition: int(row.chain_position),
    chainHash: text(row.chain_hash),
  };
}

const insertReceiptSql = `INSERT INTO receipts (id, action_id, agent_id, environment, decision,
  receipt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`;

// The same INSERT merged, the receipts of a whole group commit in one statement, on PostgreSQL
// (see store/multi-row.ts): without it a commit of N checks ran N single-row receipt INSERTs
// beside its one multi-row `actions` INSERT. Its parameters are in the order of the columns here.
const receiptRows = unnestInsert({
  key: 'receipts_insert',
  table: 'receipts',
  columns: [
    ['id', 'text'],
    ['action_id', 'text'],
    ['agent_id', 'text'],
    ['environment', 'text'],
    ['decision', 'text'],
    ['receipt', 'text'],
    ['created_at', 'bigint'],
  ],
});

/**
 * The INSERT of a receipt. `receipt: null` is a receipt not signed yet: only a statement
 * sealer (`ReceiptService.issue`) may leave it so, and fills it when its commit runs (the
 * column is NOT NULL, so it is never written unsigned).
 */
export function receiptInsertStatement(
  receipt: Omit<NewReceipt, 'receipt'> & { receipt: string | null },
): Statement {
  return {
    sql: insertReceiptSql,
    rows: receiptRows,
    params: [
      receipt.id,
      receipt.actionId,
      receipt.agentId,
      receipt.environment,
      receipt.decision,
      receipt.receipt,
      receipt.createdAt,
    ],
  };
}

/**
 * The INSERT of `unsigned` (a `receiptInsertStatement` of a receipt not signed yet) with its
 * receipt filled in: the same parameters but that one. It keeps the multi-row form: the sealer
 * runs just before the batch is planned, so this is the statement that merges.
 */
export function signedReceiptStatement(unsigned: Statement, receipt: string): Statement {
  const params = (unsigned.params as readonly SqlValue[]).slice();
  params[5] = receipt;
  return { sql: insertReceiptSql, params, rows: receiptRows };
}

/** Receipt keys and receipts. */
export function receiptRepository(db: Queryable) {
  return {
    /** Every key, oldest first (retired ones included: they still verify old receipts). */
    async keys(): Promise<ReceiptKeyRecord[]> {
      return (await db.all('SELECT * FROM receipt_keys ORDER BY created_at, kid')).map(toKey);
    },

    /** Adds a key and retires every other one (rotation), in the caller's transaction. */
    async addKey(key: ReceiptKeyRecord): Promise<void> {
      await db.run('UPDATE receipt_keys SET retired_at = ? WHERE retired_at IS NULL', [
        key.createdAt,
      ]);
      await db.run(
        'INSERT INTO receipt_keys (kid, public_key, private_key, created_at, retired_at) VALUES (?, ?, ?, ?, NULL)',
        [key.kid, key.publicKey, key.privateKey, key.createdAt],
      );
    },

    /** Stores a signed receipt (inside a decision's transaction). */
    async insert(receipt: NewReceipt): Promise<void> {
      const statement = receiptInsertStatement(receipt);
      await db.run(statement.sql, statement.params);
    },

    /** An action's receipts, oldest first (its check, then its decision). */
    async forAction(actionId: string): Promise<ReceiptRecord[]> {
      return (
        await db.all('SELECT * FROM receipts WHERE action_id = ? ORDER BY seq', [actionId])
      ).map(toReceipt);
    },

    /** The latest receipt of an action, or undefined. */
    async latest(actionId: string): Promise<string | undefined> {
      const row = await db.get<{ receipt: string }>(
        'SELECT receipt FROM receipts WHERE action_id = ? ORDER BY seq DESC LIMIT 1',
        [actionId],
      );
      return row?.receipt;
    },

    /** Receipts in `seq` order after `afterSeq`, for export (at most `limit`). */
    async page(
      filter: { agentId?: string; environment?: Environment; from?: number; to?: number },
      afterSeq: number,
      limit: number,
    ): Promise<ReceiptRecord[]> {
      const where = ['seq > ?'];
      const params: (string | number)[] = [afterSeq];
      if (filter.agentId) {
        where.push('agent_id = ?');
        params.push(filter.agentId);
      }
      if (filter.environment) {
        where.push('environment = ?');
        params.push(filter.environment);
      }
      if (filter.from !== undefined) {
        where.push('created_at >= ?');
        params.push(filter.from);
      }
      if (filter.to !== undefined) {
        where.push('created_at < ?');
        params.push(filter.to);
      }
      params.push(limit);
      return (
        await db.all(
          `SELECT * FROM receipts WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`,
          params,
        )
      ).map(toReceipt);
    },
  };
}
