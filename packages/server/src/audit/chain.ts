import { sha256Hex } from '../receipts/service';

// The audit chain's hashes. Each agent and environment has one chain over its receipts (every
// decision, in the order the sealer met them): entry n's hash covers entry n-1's hash, its
// position and the SHA-256 of its receipt (the signed JWS, which binds the call and the decision).

/** The hash a chain starts from (position 0). */
export function genesisHash(agentId: string, environment: string): string {
  return sha256Hex(`arden-audit-v1|${agentId}|${environment}`);
}

/** The hash of the entry at `position` holding `receipt`, after `previous`. */
export function entryHash(previous: string, position: number, receipt: string): string {
  return entryHashOfDigest(previous, position, sha256Hex(receipt));
}

/**
 * `entryHash` from the receipt's SHA-256 (hex) instead of the receipt: the sealer on PostgreSQL
 * reads the digest (`sha256` in the database), not the receipt's text.
 */
export function entryHashOfDigest(previous: string, position: number, digest: string): string {
  return sha256Hex(`${previous}|${position}|${digest}`);
}

/** The type of a checkpoint's JWS. */
export const checkpointType = 'arden-audit-checkpoint+jwt';

/** The signed content of a checkpoint. */
export interface CheckpointClaims {
  v: 1;
  type: 'arden-audit-checkpoint';
  agent_id: string;
  environment: string;
  position: number;
  hash: string;
  at: number;
  /**
   * When the entry at `position` was written (its receipt's time); lets `arden audit verify` say
   * that an entry removed by hand was not yet due for retention. Absent on older checkpoints.
   */
  entry_at?: number;
}

/** The type of a retention anchor's JWS. */
export const anchorType = 'arden-audit-anchor+jwt';

/**
 * The signed content of a retention anchor: retention removed the chain's entries after
 * `previous` up to and including `position` (all written before `cutoff`), so the chain now
 * starts from `hash` at `position`. `intact` says whether the removed entries still chained from
 * `previous` when they were removed (false: rows had been deleted or changed by hand before, and
 * `arden audit verify` keeps reporting it).
 */
export interface AnchorClaims {
  v: 1;
  type: 'arden-audit-anchor';
  agent_id: string;
  environment: string;
  position: number;
  hash: string;
  cutoff: number;
  previous: { position: number; hash: string };
  /** Entries removed (rows actually deleted). */
  removed: number;
  intact: boolean;
  /** What was wrong with the removed segment, when `intact` is false. */
  problems?: string[];
  at: number;
}

/** Whether a signed statement of the audit chain is a retention anchor. */
export function isAnchor(claims: { type?: unknown }): claims is AnchorClaims {
  return claims.type === 'arden-audit-anchor';
}
