import { createPublicKey, verify } from 'node:crypto';
import { type ReceiptClaims, type ReceiptPublicKey, verifyReceipt } from '@arden/core';
import { effectiveKwargsJson } from '../approvals/state';
import { sha256Hex } from '../receipts/service';
import type { Store } from '../store';
import { type CheckpointClaims, entryHash } from './chain';

/** One thing wrong that verification found. */
export interface AuditProblem {
  agentId: string;
  environment: string;
  /** The chain position concerned, when there is one. */
  position: number | null;
  actionId: string | null;
  /** `chain_broken`, `receipt_invalid`, `receipt_row_altered`, `action_altered`, `action_missing`, `head_mismatch`, `checkpoint_mismatch`, `checkpoint_invalid`. */
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
  /** Checkpoints exported earlier (compact JWS), checked against the chains as they are now. */
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

/**
 * Walks every audit chain from its retention anchor: each entry's hash must follow from the
 * previous one, its receipt must verify with `keys` and agree with its row, the action it
 * records must still be the call it signed (tool, argument bytes, agent, environment,
 * session), and the chain must end at its head. A row changed, inserted or deleted by hand
 * shows up as a problem. Exported checkpoints are checked against the chains as they are now,
 * which also catches a chain rewritten from some point on with its hashes recomputed.
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
  const hashes = new Map<string, Map<number, string>>();
  const checkpointPositions = new Map<string, Set<number>>();
  const exported = (options.checkpoints ?? []).map((jws) => ({
    jws,
    decoded: verifyCompact<CheckpointClaims>(jws, options.keys),
  }));
  for (const { decoded } of exported) {
    if (!decoded?.valid) continue;
    const key = `${decoded.claims.agent_id}|${decoded.claims.environment}`;
    const set = checkpointPositions.get(key) ?? new Set<number>();
    set.add(decoded.claims.position);
    checkpointPositions.set(key, set);
  }
  const stored = await store.audit.checkpoints();
  for (const checkpoint of stored) {
    const key = `${checkpoint.agentId}|${checkpoint.environment}`;
    const set = checkpointPositions.get(key) ?? new Set<number>();
    set.add(checkpoint.position);
    checkpointPositions.set(key, set);
  }
  let entries = 0;
  for (const head of heads) {
    const key = `${head.agentId}|${head.environment}`;
    const wanted = checkpointPositions.get(key) ?? new Set<number>();
    const seen = new Map<number, string>();
    hashes.set(key, seen);
    const where = { agentId: head.agentId, environment: head.environment };
    let previous = head.anchorHash;
    let position = head.anchorPosition;
    for (;;) {
      const rows = await store.audit.chain(head.agentId, head.environment, position, 1_000);
      if (rows.length === 0) break;
      for (const row of rows) {
        entries += 1;
        const at = (kind: string, message: string) =>
          report({ ...where, position: row.chainPosition, actionId: row.actionId, kind, message });
        if (row.chainPosition !== position + 1) {
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
          if (head.anchoredAt === null || made === undefined || made >= head.anchoredAt) {
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
  const check = (claims: CheckpointClaims, source: string) => {
    const head = heads.find(
      (candidate) =>
        candidate.agentId === claims.agent_id && candidate.environment === claims.environment,
    );
    if (!head || claims.position <= head.anchorPosition) return;
    checkpoints += 1;
    const hash =
      claims.position === head.anchorPosition
        ? head.anchorHash
        : hashes.get(`${claims.agent_id}|${claims.environment}`)?.get(claims.position);
    if (hash !== claims.hash) {
      report({
        agentId: claims.agent_id,
        environment: claims.environment,
        position: claims.position,
        actionId: null,
        kind: 'checkpoint_mismatch',
        message: `The ${source} checkpoint at entry ${claims.position} does not match the chain: it was rewritten from there on or before.`,
      });
    }
  };
  for (const { decoded } of exported) {
    if (!decoded?.valid) {
      report({
        agentId: decoded?.claims ? String((decoded.claims as CheckpointClaims).agent_id) : '?',
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
  for (const checkpoint of stored) {
    const decoded = verifyCompact<CheckpointClaims>(checkpoint.checkpoint, options.keys);
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
