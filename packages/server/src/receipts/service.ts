import { hash, type KeyObject } from 'node:crypto';
import type { ReceiptClaims, ReceiptDecider, ReceiptDecision, ReceiptPublicKey } from '@arden/core';
import { approvalsSoFar } from '../approvals/state';
import { ConflictError } from '../errors';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import type { ActionRecord, NewAction, Store } from '../store';
import type { SqlValue, Statement, StatementSealer } from '../store/database';
import type { MultiRow } from '../store/multi-row';
import {
  decryptPrivateKey,
  generateReceiptKey,
  matchesPublicKey,
  publicJwk,
  ReceiptKeyError,
  signCompact,
} from './keys';
import { signReceiptBatch } from './merkle';
import {
  type NewReceipt,
  type ReceiptKeyRecord,
  receiptInsertStatement,
  signedReceiptStatement,
} from './repository';

/** How the server runs receipts: `on` (sign when a secret is there), `required`, or `off`. */
export type ReceiptMode = 'on' | 'required' | 'off';

/** Receipt options of the server (`ServerConfig.receipts`). */
export interface ReceiptOptions {
  /**
   * The operator's secret that encrypts the receipt signing keys at rest
   * (`ARDEN_RECEIPT_SECRET`). Without it, see docs/security.md: SQLite makes a `receipt-secret`
   * file beside the database (and warns); PostgreSQL runs without receipts (and warns), unless
   * `mode` is `required`, which refuses to start.
   */
  secret?: string;
  /** `on` (default), `required` (refuse to start without a secret), or `off` (`ARDEN_RECEIPTS`). */
  mode?: ReceiptMode;
  /** How often the audit sealer chains new receipts, in ms (default 1 000). */
  sealIntervalMs?: number;
  /** The least time between two signed checkpoints of one chain, in ms (default 60 000). */
  checkpointIntervalMs?: number;
}

/** What a receipt is made from: the action (as stored) and the decision. */
export interface ReceiptInput {
  action: Pick<
    ActionRecord,
    'id' | 'agentId' | 'environment' | 'sessionId' | 'toolName' | 'reason' | 'policy'
  > &
    Pick<NewAction, 'argsJson' | 'kwargsJson' | 'args' | 'kwargs'>;
  decision: ReceiptDecision;
  runs: boolean;
  decidedBy: ReceiptDecider;
  decidedAt: number;
  /** Claims filled by approve-with-edit, in-app and multi-person approvals (see ReceiptClaims). */
  extra?: Pick<
    ReceiptClaims,
    'edited' | 'approved_in' | 'approvers' | 'redacted' | 'stored_kwargs_sha256'
  >;
}

/** A receipt issued in a group commit: its INSERT, then the receipt once the commit signed it. */
export interface IssuedReceipt {
  claims: ReceiptClaims;
  /**
   * The receipt's INSERT, for the group committer: it is signed (with the other receipts of
   * its transaction, under one Merkle root) when that transaction is about to run.
   */
  statement: Statement;
  /** The compact receipt (`r2~…`), once its commit signed it; throws when read before. */
  readonly receipt: string;
}

/**
 * The unsigned INSERT of an issued receipt, carrying its receipt: the sealer finds the receipt
 * on the statement it is given (a property read, where a `WeakMap` lookup keyed by the
 * statement cost about a microsecond a check in ephemeron bookkeeping). Not exported: a
 * statement not built by `issue` is not one of these, and the sealer refuses it.
 */
class ReceiptStatement implements Statement {
  readonly receipt: PendingReceipt;

  constructor(
    readonly sql: string,
    readonly params: readonly SqlValue[] | undefined,
    // The multi-row kind of the receipt INSERT: the group commit puts the receipts of a commit
    // side by side by it (before sealing), and the signed statements merge by it.
    readonly rows: MultiRow | undefined,
    readonly sealer: StatementSealer,
    claims: ReceiptClaims,
  ) {
    this.receipt = new PendingReceipt(claims, this);
  }
}

/** A receipt issued for a group commit, waiting for its commit's signature. */
class PendingReceipt implements IssuedReceipt {
  /** Set by the sealer once the commit signed it. */
  signed: string | undefined = undefined;

  constructor(
    readonly claims: ReceiptClaims,
    readonly statement: ReceiptStatement,
  ) {}

  get receipt(): string {
    if (this.signed === undefined) {
      throw new Error('A receipt was read before its group commit signed it.');
    }
    return this.signed;
  }
}

/** SHA-256 (hex) of a text's UTF-8 bytes, as receipts bind argument JSON. */
export function sha256Hex(value: string): string {
  // One-shot: no Hash object per call (a check hashes its arguments, its receipt, its chain entry).
  return hash('sha256', value, 'hex');
}

// Most calls have no positional arguments: their JSON's hash, computed once.
const emptyArrayJson = '[]';
const emptyArraySha256 = sha256Hex(emptyArrayJson);

/** `sha256Hex` of argument JSON (the hash of `[]`, the usual positional arguments, is kept). */
function argumentsSha256(json: string): string {
  return json === emptyArrayJson ? emptyArraySha256 : sha256Hex(json);
}

/**
 * Signs a receipt for every decision with the server's Ed25519 key and publishes the public
 * keys (`/.well-known/arden-keys.json`). The receipts of one group commit share one signature:
 * over the root of a Merkle tree of their claims, each receipt carrying its inclusion path
 * (see `merkle.ts`). `enabled` is false when the server runs without receipts (no secret on
 * PostgreSQL, or `mode: 'off'`): then `issue()` and `sign()` return undefined.
 */
export class ReceiptService {
  private active: { record: ReceiptKeyRecord; privateKey: KeyObject } | undefined;
  private published: ReceiptPublicKey[] = [];
  // The group committer calls it once per transaction with that transaction's receipts.
  private readonly sealer: StatementSealer = { seal: (statements) => this.seal(statements) };

  private constructor(
    private readonly store: Store,
    private readonly secret: string | undefined,
    private readonly logger: Logger,
    private readonly clock: () => number,
  ) {}

  /**
   * Opens the key ring: decrypts the active key, or makes the first one. Throws
   * `ReceiptKeyError` when the stored keys do not open with `secret` (never signs with a key
   * it cannot trust, never replaces keys it cannot read).
   */
  static async open(
    store: Store,
    secret: string | undefined,
    logger: Logger,
    clock: () => number = Date.now,
  ): Promise<ReceiptService> {
    const service = new ReceiptService(store, secret, logger, clock);
    if (secret !== undefined) await service.load();
    return service;
  }

  /** Whether receipts are signed. */
  get enabled(): boolean {
    return this.active !== undefined;
  }

  private async load(): Promise<void> {
    const secret = this.secret as string;
    let keys = await this.store.receipts.keys();
    if (keys.length === 0) {
      const made = generateReceiptKey(secret, this.clock());
      await this.store.transaction(async (repositories) => {
        // Another replica may have made one meanwhile: keep its.
        if ((await repositories.receipts.keys()).length === 0) {
          await repositories.receipts.addKey(made.record);
        }
      });
      keys = await this.store.receipts.keys();
      this.logger.info('Made the first receipt signing key', { kid: keys.at(-1)?.kid });
    }
    const current = [...keys].reverse().find((key) => key.retiredAt === null) ?? keys.at(-1);
    if (!current) throw new ReceiptKeyError('No receipt signing key could be stored.');
    const privateKey = decryptPrivateKey(current.privateKey, secret);
    if (!matchesPublicKey(current, privateKey)) {
      throw new ReceiptKeyError(
        `The receipt key ${current.kid} in the database does not match its public key: the row was altered. Rotate the key (arden receipts rotate-key) after investigating.`,
      );
    }
    this.active = { record: current, privateKey };
    this.published = keys.map(publicJwk);
  }

  /** The public keys, newest first, retired ones included (`/.well-known/arden-keys.json`). */
  keysDocument(): { keys: ReceiptPublicKey[]; receipts: 'enabled' | 'disabled' } {
    return {
      keys: [...this.published].reverse(),
      receipts: this.enabled ? 'enabled' : 'disabled',
    };
  }

  /** Makes a new signing key and retires the current one (kept for verification). */
  async rotate(): Promise<ReceiptPublicKey> {
    if (this.secret === undefined) {
      // 409: the request is fine, the server's state refuses it (and says how to change it).
      throw new ConflictError(
        'Receipts are off on this server (no receipt secret), so there is no key to rotate: set ARDEN_RECEIPT_SECRET (see docs/security.md) and restart it first.',
      );
    }
    const made = generateReceiptKey(this.secret, this.clock());
    await this.store.transaction((repositories) => repositories.receipts.addKey(made.record));
    await this.load();
    this.logger.info('Rotated the receipt signing key', { kid: made.record.kid });
    return publicJwk(made.record);
  }

  /** Re-reads the keys (another replica rotated). */
  async reload(): Promise<void> {
    if (this.secret !== undefined) await this.load();
  }

  /** Builds the claims of a receipt. */
  claims(input: ReceiptInput): ReceiptClaims {
    const { action } = input;
    const argsJson = action.argsJson ?? JSON.stringify(action.args);
    const kwargsJson = action.kwargsJson ?? JSON.stringify(action.kwargs);
    const policy = action.policy?.policy;
    return {
      v: 1,
      jti: uuidv7(input.decidedAt),
      iat: Math.floor(input.decidedAt / 1000),
      decided_at: input.decidedAt,
      action_id: action.id,
      agent_id: action.agentId,
      environment: action.environment,
      session_id: action.sessionId,
      tool: action.toolName,
      args_sha256: argumentsSha256(argsJson),
      kwargs_sha256: argumentsSha256(kwargsJson),
      decision: input.decision,
      runs: input.runs,
      reason: action.reason,
      policy: policy
        ? {
            id: policy.id ?? null,
            name: policy.name,
            version: policy.version ?? null,
            rule_index: action.policy?.ruleIndex ?? null,
          }
        : null,
      decided_by: input.decidedBy,
      ...input.extra,
    };
  }

  /**
   * Issues the receipt of one decision for the group commit that writes it: its `statement`
   * goes with the decision's statements to `committer.submitAll`, which signs it with the other
   * receipts of its transaction just before that transaction runs (a signing failure fails the
   * commit); `receipt` can be read once the commit resolved.
   */
  issue(input: ReceiptInput): IssuedReceipt | undefined {
    if (!this.active) return undefined;
    const claims = this.claims(input);
    const unsigned = receiptInsertStatement({ ...receiptRow(claims, input), receipt: null });
    return new ReceiptStatement(unsigned.sql, unsigned.params, unsigned.rows, this.sealer, claims)
      .receipt;
  }

  /**
   * Signs the receipt of one decision now (a batch of one), for a decision written in its own
   * transaction (approve, deny, expire): the row to store.
   */
  sign(input: ReceiptInput): (NewReceipt & { claims: ReceiptClaims }) | undefined {
    const active = this.active;
    if (!active) return undefined;
    const claims = this.claims(input);
    const [receipt] = signReceiptBatch(
      [claims],
      active.record.kid,
      active.privateKey,
      this.clock(),
    );
    return { ...receiptRow(claims, input), receipt: receipt as string, claims };
  }

  // The sealer of issued receipts: one Merkle root signed for the receipts of a transaction.
  private seal(statements: readonly Statement[]): Statement[] {
    const active = this.active;
    // Only receipts this service issued: a statement of its class naming this service's sealer.
    const pending = statements.map((statement) =>
      statement instanceof ReceiptStatement && statement.sealer === this.sealer
        ? statement.receipt
        : undefined,
    );
    if (!active || pending.some((item) => item === undefined)) {
      throw new ReceiptKeyError(
        "A receipt of this commit cannot be signed: it was not issued by this server's receipt service, or receipts are off.",
      );
    }
    const items = pending as PendingReceipt[];
    const receipts = signReceiptBatch(
      items.map((item) => item.claims),
      active.record.kid,
      active.privateKey,
      this.clock(),
    );
    return items.map((item, index) => {
      const receipt = receipts[index] as string;
      item.signed = receipt;
      return signedReceiptStatement(item.statement, receipt);
    });
  }

  /** Signs any other statement of the server (audit checkpoints) with the active key. */
  signStatement(payload: unknown, type: string): string | undefined {
    if (!this.active) return undefined;
    return signCompact(payload, this.active.record.kid, this.active.privateKey, type);
  }
}

/** The stored row of a receipt, but the receipt itself. */
function receiptRow(claims: ReceiptClaims, input: ReceiptInput): Omit<NewReceipt, 'receipt'> {
  return {
    id: claims.jti,
    actionId: claims.action_id,
    agentId: claims.agent_id,
    environment: input.action.environment,
    decision: claims.decision,
    createdAt: input.decidedAt,
  };
}

/**
 * The claims of a call with sensitive arguments: the paths, and the hash of the masked keyword
 * arguments the server stores (`arden audit verify` checks the stored call against it).
 */
export function redactionClaims(
  paths: readonly string[],
  stored: Pick<NewAction, 'kwargsJson' | 'kwargs'>,
): Pick<ReceiptClaims, 'redacted' | 'stored_kwargs_sha256'> {
  const text = stored.kwargsJson ?? JSON.stringify(stored.kwargs);
  return { redacted: [...paths], stored_kwargs_sha256: sha256Hex(text) };
}

/**
 * The receipt of a check's decision: allow, block, or hold (for approval). `action` is the call
 * as made (verbatim); `redacted`, when the policy marked paths sensitive, the stored call.
 */
export function checkReceiptInput(
  action: NewAction,
  redacted?: { paths: readonly string[]; stored: NewAction },
): ReceiptInput {
  return {
    ...(redacted ? { extra: redactionClaims(redacted.paths, redacted.stored) } : {}),
    action,
    decision:
      action.decision === 'allow' ? 'allow' : action.decision === 'block' ? 'block' : 'hold',
    runs: action.decision === 'allow',
    decidedBy: { type: 'policy', id: action.policy?.policy?.id ?? null },
    decidedAt: action.createdAt,
  };
}

/**
 * The receipt of a decision on a held action (approve, deny, expire). An approval binds the call
 * that runs: with an approver's edit, the edited arguments and the policy and rule that judged
 * the edited call (`edited` then names the original call's hashes and the editor); it also says where it was given (`approved_in`) and, when more
 * than one person approved, who (`approvers`, in order). An in-app decision is `decided_by.type:
 * app` with the end user the app asserted.
 */
export function decisionReceiptInput(action: ActionRecord, now: number): ReceiptInput {
  const expired = action.status === 'expired';
  const approved = action.status === 'approved';
  const state = action.approval ?? undefined;
  const inApp = !expired && state?.decidedIn === 'app';
  const edit = approved ? state?.edits.at(-1) : undefined;
  const extra: NonNullable<ReceiptInput['extra']> = {};
  if (edit) {
    extra.edited = {
      original_args_sha256: sha256Hex(action.argsJson),
      original_kwargs_sha256: sha256Hex(action.kwargsJson),
      by: edit.user,
    };
  }
  if (approved && state?.decidedIn) {
    extra.approved_in = state.decidedIn;
    const approvers = [...new Set(approvalsSoFar(action).map((vote) => vote.user))];
    if (approvers.length > 1) extra.approvers = approvers;
  }
  return {
    // With an edit, the call that runs is the edited one, and the policy, rule and reason are
    // those of its own evaluation (the edited call is judged again, maybe by another rule).
    action: edit
      ? {
          ...action,
          kwargsJson: edit.after,
          kwargs: JSON.parse(edit.after),
          reason: edit.evaluation.reason,
          policy: {
            ...(edit.evaluation.policy ? { policy: edit.evaluation.policy } : {}),
            ...(edit.evaluation.ruleIndex !== null ? { ruleIndex: edit.evaluation.ruleIndex } : {}),
          },
        }
      : action,
    decision: expired ? 'expire' : approved ? 'approve' : 'deny',
    runs: approved || (expired && action.onTimeout === 'allow'),
    decidedBy: expired
      ? { type: 'timeout', id: null }
      : inApp
        ? { type: 'app', id: state?.decidedByUser ?? null }
        : { type: 'user', id: action.decidedBy ?? null },
    decidedAt: action.decidedAt ?? now,
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
}
