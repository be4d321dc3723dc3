import { createPublicKey, verify } from 'node:crypto';
import { type ReceiptClaims, type ReceiptPublicKey, verifyReceipt } from '@arden/core';
import { effectiveKwargsJson } from '../approvals/state';
import { sha256Hex } from '../receipts/service';
import type { Store } from '../store';
import {
  type AnchorClaims,
  type CheckpointClaims,
  entryHash,
  genesisHash,
  isAnchor,
} from './chain';

/** One thing wrong that verification found. */
export interface AuditProblem {
  agentId: string;
  environment: string;
  /** The chain position concerned, when there is one. */
  position: number | null;
  actionId: string | null;
  /**
   * `chain_broken`, `receipt_invalid`, `receipt_row_altered`, `action_altered`, `action_missing`,
   * `head_mismatch`, `checkpoint_mismatch`, `checkpoint_invalid`, `anchor_unsigned`,
   * `retention_gap`, `removed_not_due`, `chain_missing`.
   */
  kind: string;
  message: string;
}

/** What `verifyAudit` found. */
export interface AuditReport {
  ok: boolean;
  chains: number;
  /** Entries walked (after each chain's retention anchor). */
  entries: number;
  /** Checkpoints checked against the chains. */
  checkpoints: number;
  problems: AuditProblem[];
}

/** Options of `verifyAudit`. */
export interface VerifyAuditOptions {
  /** The public keys receipts and checkpoints must verify with. */
  keys: readonly ReceiptPublicKey[];
  /**
   * Checkpoints and retention anchors exported earlier (compact JWS), checked against the chains
   * as they are now.
   */
  checkpoints?: readonly string[];
  /** Stop collecting after this many problems (default 100). */
  maxProblems?: number;
}

type Decoded<T> = { kid: string; claims: T; valid: boolean } | undefined;

/** Decodes a compact JWS and checks its EdDSA signature against `keys`. */
export function verifyCompact<T>(jws: string, keys: readonly ReceiptPublicKey[]): Decoded<T> {
  const parts = jws.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8'));
    const claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as T;
    const key = keys.find((candidate) => candidate.kid === header.kid);
    if (!key || header.alg !== 'EdDSA') return { kid: String(header.kid), claims, valid: false };
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: key.x },
      format: 'jwk',
    });
    const valid = verify(
      null,
      Buffer.from(`${parts[0]}.${parts[1]}`),
      publicKey,
      Buffer.from(parts[2] as string, 'base64url'),
    );
    return { kid: String(header.kid), claims, valid };
  } catch {
    return undefined;
  }
}

/** The time a UUIDv7 action id was made, in ms (undefined for other ids). */
function uuidTime(id: string): number | undefined {
  const hex = id.replaceAll('-', '').slice(0, 12);
  return /^[0-9a-f]{12}$/i.test(hex) ? Number.parseInt(hex, 16) : undefined;
}

type Statement = CheckpointClaims | AnchorClaims;

/** Where a chain's walk starts: its latest signed retention anchor, or its genesis. */
interface Start {
  position: number;
  hash: string;
  /** The signed retention cutoff (actions written before it may be gone), or null. */
  cutoff: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Walks every audit chain from its latest **signed** retention anchor (a statement the server
 * signed when retention removed the front of the chain; the anchor columns of `audit_heads` are
 * only checked against it): each entry's hash must follow from the previous one, its receipt must
 * verify with `keys` and agree with its row, the action it records must still be the call it
 * signed (tool, argument bytes, agent, environment, session), and the chain must end at its head.
 * A row changed, inserted or deleted by hand shows up as a problem; so does an anchor moved by
 * hand (`anchor_unsigned`), a retention that removed an already broken segment
 * (`retention_gap`) and, when a checkpoint covers it, an entry removed before it was due
 * (`removed_not_due`). Exported checkpoints and anchors are checked against the chains as they
 * are now, which also catches a chain rewritten from some point on with its hashes recomputed.
 */
export async function verifyAudit(
  store: Pick<Store, 'audit' | 'actions'>,
  options: VerifyAuditOptions,
): Promise<AuditReport> {
  const maxProblems = options.maxProblems ?? 100;
  const problems: AuditProblem[] = [];
  const report = (problem: AuditProblem) => {
    if (problems.length < maxProblems) problems.push(problem);
  };
  const heads = await store.audit.heads();
  const chainKey = (agentId: string, environment: string) => `${agentId}|${environment}`;
  const exported = (options.checkpoints ?? []).map((jws) => ({
    jws,
    decoded: verifyCompact<Statement>(jws, options.keys),
  }));
  const stored = (await store.audit.checkpoints()).map((checkpoint) => ({
    checkpoint,
    decoded: verifyCompact<Statement>(checkpoint.checkpoint, options.keys),
  }));
  // Every validly signed statement, checkpoints and anchors, from both sources.
  const valid = [...exported, ...stored].flatMap(({ decoded }) =>
    decoded?.valid ? [decoded.claims] : [],
  );
  const checkpointPositions = new Map<string, Set<number>>();
  const anchors = new Map<string, AnchorClaims[]>();
  for (const claims of valid) {
    const key = chainKey(claims.agent_id, claims.environment);
    if (isAnchor(claims)) {
      // The same anchor stored and exported counts once.
      const known = anchors.get(key) ?? [];
      if (
        !known.some((anchor) => anchor.position === claims.position && anchor.hash === claims.hash)
      ) {
        anchors.set(key, [...known, claims]);
      }
    } else {
      const set = checkpointPositions.get(key) ?? new Set<number>();
      set.add(claims.position);
      checkpointPositions.set(key, set);
    }
  }
  const hashes = new Map<string, Map<number, string>>();
  const starts = new Map<string, Start>();
  // Positions found missing in each chain (ranges, inclusive).
  const missing = new Map<string, [number, number][]>();
  let entries = 0;
  for (const head of heads) {
    const key = chainKey(head.agentId, head.environment);
    const where = { agentId: head.agentId, environment: head.environment };
    const signed = (anchors.get(key) ?? []).reduce<AnchorClaims | undefined>(
      (latest, anchor) => (!latest || anchor.position > latest.position ? anchor : latest),
      undefined,
    );
    const start: Start = signed
      ? { position: signed.position, hash: signed.hash, cutoff: signed.cutoff }
      : { position: 0, hash: genesisHash(head.agentId, head.environment), cutoff: null };
    starts.set(key, start);
    if (head.anchorPosition !== start.position || head.anchorHash !== start.hash) {
      report({
        ...where,
        position: head.anchorPosition,
        actionId: null,
        kind: 'anchor_unsigned',
        message:
          head.anchorPosition > start.position
            ? `The chain's retention anchor is at entry ${head.anchorPosition}${head.anchoredAt !== null ? ` (cutoff ${iso(head.anchoredAt)})` : ''}, but no signed retention statement says so (the last one is at entry ${start.position}): entries ${start.position + 1} to ${head.anchorPosition} were deleted by hand and the anchor moved.`
            : `The chain's retention anchor (entry ${head.anchorPosition}) is not the signed one (entry ${start.position}): it was changed by hand.`,
      });
    }
    for (const anchor of anchors.get(key) ?? []) {
      if (anchor.intact) continue;
      report({
        ...where,
        position: anchor.position,
        actionId: null,
        kind: 'retention_gap',
        message: `Retention (cutoff ${iso(anchor.cutoff)}) removed entries ${anchor.previous.position + 1} to ${anchor.position}, but they no longer formed an intact chain: ${(anchor.problems ?? []).join('; ') || 'rows had been deleted or changed by hand'}.`,
      });
    }
    const wanted = checkpointPositions.get(key) ?? new Set<number>();
    const seen = new Map<number, string>();
    const gaps: [number, number][] = [];
    hashes.set(key, seen);
    missing.set(key, gaps);
    let previous = start.hash;
    let position = start.position;
    for (;;) {
      const rows = await store.audit.chain(head.agentId, head.environment, position, 1_000);
      if (rows.length === 0) break;
      for (const row of rows) {
        entries += 1;
        const at = (kind: string, message: string) =>
          report({ ...where, position: row.chainPosition, actionId: row.actionId, kind, message });
        if (row.chainPosition !== position + 1) {
          gaps.push([position + 1, (row.chainPosition ?? 0) - 1]);
          at(
            'chain_broken',
            `Entries ${position + 1} to ${(row.chainPosition ?? 0) - 1} are missing: rows were deleted.`,
          );
        }
        position = row.chainPosition ?? position + 1;
        const expected = entryHash(previous, position, row.receipt);
        if (expected !== row.chainHash) {
          at(
            'chain_broken',
            `The hash of entry ${position} does not follow from the previous entry and its receipt: the receipt or the chain was changed.`,
          );
        }
        previous = row.chainHash ?? expected;
        if (wanted.has(position)) seen.set(position, previous);
        // Either form: batched (inclusion path to a signed root) or a single compact JWS.
        const claims = await verifyReceipt(row.receipt, undefined, options.keys).catch(
          () => undefined as ReceiptClaims | undefined,
        );
        if (!claims) {
          at(
            'receipt_invalid',
            `The receipt of entry ${position} does not verify with the server's keys.`,
          );
          continue;
        }
        if (
          claims.action_id !== row.actionId ||
          claims.agent_id !== row.agentId ||
          claims.environment !== row.environment ||
          claims.decision !== row.decision ||
          claims.jti !== row.id
        ) {
          at(
            'receipt_row_altered',
            `The row of entry ${position} does not match its signed receipt.`,
          );
        }
        const action = await store.actions.get(claims.action_id);
        if (!action) {
          const made = uuidTime(claims.action_id);
          if (start.cutoff === null || made === undefined || made >= start.cutoff) {
            at('action_missing', `Action ${claims.action_id} of entry ${position} was deleted.`);
          }
          continue;
        }
        const differs: string[] = [];
        if (action.toolName !== claims.tool) differs.push('tool');
        // An approval with edit binds the edited call and names the original's hashes.
        const argsHash = claims.edited?.original_args_sha256 ?? claims.args_sha256;
        const kwargsHash = claims.edited?.original_kwargs_sha256 ?? claims.kwargs_sha256;
        if (sha256Hex(action.argsJson) !== argsHash) differs.push('args');
        // Sensitive arguments: the stored call is masked; the receipt names its hash.
        const storedHash = claims.redacted ? claims.stored_kwargs_sha256 : kwargsHash;
        if (sha256Hex(action.kwargsJson) !== storedHash) differs.push('kwargs');
        if (claims.edited && sha256Hex(effectiveKwargsJson(action)) !== claims.kwargs_sha256) {
          differs.push('edited arguments');
        }
        if (action.agentId !== claims.agent_id) differs.push('agent');
        if (action.environment !== claims.environment) differs.push('environment');
        if (action.sessionId !== claims.session_id) differs.push('session');
        if (differs.length > 0) {
          at(
            'action_altered',
            `Action ${action.id} no longer matches its receipt (entry ${position}): ${differs.join(', ')} changed.`,
          );
        }
      }
    }
    if (position < head.position) gaps.push([position + 1, head.position]);
    if (position !== head.position || previous !== head.hash) {
      report({
        ...where,
        position,
        actionId: null,
        kind: 'head_mismatch',
        message: `The chain ends at entry ${position} but its head says ${head.position}: entries were deleted or added at its end.`,
      });
    }
  }
  let checkpoints = 0;
  const check = (claims: Statement, source: string) => {
    const key = chainKey(claims.agent_id, claims.environment);
    const start = starts.get(key);
    const what = isAnchor(claims) ? 'retention anchor' : 'checkpoint';
    const where = {
      agentId: claims.agent_id,
      environment: claims.environment,
      position: claims.position,
      actionId: null,
    };
    if (!start) {
      // Its chain has no head any more: every entry and the head were deleted.
      checkpoints += 1;
      report({
        ...where,
        kind: 'chain_missing',
        message: `The ${source} ${what} at entry ${claims.position} names a chain that no longer exists: its entries and head were deleted.`,
      });
      return;
    }
    // Before the signed anchor, the entries were removed by retention: nothing left to compare.
    if (claims.position < start.position) return;
    checkpoints += 1;
    const hash =
      claims.position === start.position ? start.hash : hashes.get(key)?.get(claims.position);
    if (hash === claims.hash) return;
    const gone =
      hash === undefined &&
      (missing.get(key) ?? []).some(
        ([from, to]) => claims.position >= from && claims.position <= to,
      );
    report({
      ...where,
      kind: 'checkpoint_mismatch',
      message: gone
        ? `The ${source} ${what} at entry ${claims.position} names an entry that was deleted.`
        : `The ${source} ${what} at entry ${claims.position} does not match the chain: it was rewritten from there on or before.`,
    });
  };
  // Entries removed by hand that a checkpoint shows were newer than the retention cutoff (the
  // one the head claims, else the signed one): they were not due for retention.
  const notDue = new Set<string>();
  for (const claims of valid) {
    if (isAnchor(claims) || claims.entry_at === undefined) continue;
    const key = chainKey(claims.agent_id, claims.environment);
    const head = heads.find(
      (candidate) =>
        candidate.agentId === claims.agent_id && candidate.environment === claims.environment,
    );
    const cutoff = head?.anchoredAt ?? starts.get(key)?.cutoff ?? null;
    const removed = (missing.get(key) ?? []).some(
      ([from, to]) => claims.position >= from && claims.position <= to,
    );
    if (!removed || cutoff === null || claims.entry_at < cutoff) continue;
    if (notDue.has(`${key}|${claims.position}`)) continue;
    notDue.add(`${key}|${claims.position}`);
    report({
      agentId: claims.agent_id,
      environment: claims.environment,
      position: claims.position,
      actionId: null,
      kind: 'removed_not_due',
      message: `Entry ${claims.position}, written at ${iso(claims.entry_at)}, was removed although it is newer than the retention cutoff ${iso(cutoff)}: it was not due for retention.`,
    });
  }
  for (const { decoded } of exported) {
    if (!decoded?.valid) {
      report({
        agentId: decoded?.claims ? String(decoded.claims.agent_id) : '?',
        environment: '?',
        position: null,
        actionId: null,
        kind: 'checkpoint_invalid',
        message: 'An exported checkpoint does not verify with the server keys.',
      });
      continue;
    }
    check(decoded.claims, 'exported');
  }
  for (const { checkpoint, decoded } of stored) {
    if (!decoded?.valid) {
      report({
        agentId: checkpoint.agentId,
        environment: checkpoint.environment,
        position: checkpoint.position,
        actionId: null,
        kind: 'checkpoint_invalid',
        message: `The stored checkpoint at entry ${checkpoint.position} does not verify with the server keys.`,
      });
      continue;
    }
    check(decoded.claims, 'stored');
  }
  return { ok: problems.length === 0, chains: heads.length, entries, checkpoints, problems };
}
