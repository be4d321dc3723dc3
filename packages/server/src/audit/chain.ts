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
  return sha256Hex(`${previous}|${position}|${sha256Hex(receipt)}`);
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
}
