import { hash, type KeyObject } from 'node:crypto';
import { batchedReceiptPrefix, type ReceiptRoot, receiptRootType } from '@arden/core';
import { signCompact } from './keys';

// Batched receipts: the receipts of one group commit are the leaves of a Merkle tree (RFC 6962
// hashing), whose root is signed once; each receipt carries its claims, its inclusion path and
// the root JWS: `r2~<claims>~<index>.<hash>…~<root JWS>`. `verifyReceipt` (@arden/core) checks
// it offline. A batch of one is a tree of one leaf: its path is empty and its root the leaf.

const b64 = (bytes: Buffer) => bytes.toString('base64url');

/** The hash of a leaf: SHA-256 over 0x00 and the claims' JSON bytes. */
export function leafHash(claimsJson: Buffer): Buffer {
  return hash('sha256', Buffer.concat([leafPrefix, claimsJson]), 'buffer');
}

/** The hash of an interior node: SHA-256 over 0x01 and its children's hashes. */
function nodeHash(left: Buffer, right: Buffer): Buffer {
  return hash('sha256', Buffer.concat([nodePrefix, left, right]), 'buffer');
}

const leafPrefix = Buffer.of(0);
const nodePrefix = Buffer.of(1);

/** The largest power of two below `n` (n ≥ 2), RFC 6962's split point. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The Merkle tree hash of `leaves[low, high)` (RFC 6962, 2.1); pushes each leaf's sibling
 * hashes onto its path, from the leaf up (the audit path of RFC 6962, 2.1.1).
 */
function treeHash(leaves: readonly Buffer[], low: number, high: number, paths: Buffer[][]): Buffer {
  if (high - low === 1) return leaves[low] as Buffer;
  const middle = low + split(high - low);
  const left = treeHash(leaves, low, middle, paths);
  const right = treeHash(leaves, middle, high, paths);
  for (let index = low; index < middle; index++) (paths[index] as Buffer[]).push(right);
  for (let index = middle; index < high; index++) (paths[index] as Buffer[]).push(left);
  return nodeHash(left, right);
}

/** The tree of `leaves` (at least one): its root and every leaf's inclusion path. */
export function merkleTree(leaves: readonly Buffer[]): { root: Buffer; paths: Buffer[][] } {
  if (leaves.length === 0) throw new Error('A Merkle tree needs at least one leaf.');
  const paths = leaves.map(() => [] as Buffer[]);
  return { root: treeHash(leaves, 0, leaves.length, paths), paths };
}

/**
 * Signs the receipts of one batch: one Ed25519 signature over the root of the tree of their
 * claims. Returns the compact receipts, in the order of `claims` (each a JSON-serializable
 * claims object). `now` (ms) is the root's issuance time.
 */
export function signReceiptBatch(
  claims: readonly unknown[],
  kid: string,
  privateKey: KeyObject,
  now: number,
): string[] {
  // Each leaf's bytes (0x00, then the claims' JSON) written once: the leaf hashes them, the
  // receipt carries the claims part.
  const bodies: Buffer[] = [];
  const leaves: Buffer[] = [];
  for (const item of claims) {
    const json = JSON.stringify(item);
    const leaf = Buffer.allocUnsafe(1 + Buffer.byteLength(json, 'utf8'));
    leaf[0] = 0;
    leaf.write(json, 1, 'utf8');
    bodies.push(leaf.subarray(1));
    leaves.push(hash('sha256', leaf, 'buffer'));
  }
  const { root, paths } = merkleTree(leaves);
  const signed: ReceiptRoot = { root: b64(root), size: bodies.length, iat: Math.floor(now / 1000) };
  const rootJws = signCompact(signed, kid, privateKey, receiptRootType);
  // A node is on the path of every leaf below its sibling: encode each once.
  const encoded = new Map<Buffer, string>();
  const encode = (hash: Buffer) => {
    let text = encoded.get(hash);
    if (text === undefined) {
      text = b64(hash);
      encoded.set(hash, text);
    }
    return text;
  };
  return bodies.map((body, index) => {
    let proof = String(index);
    for (const sibling of paths[index] as Buffer[]) proof += `.${encode(sibling)}`;
    return `${batchedReceiptPrefix}~${b64(body)}~${proof}~${rootJws}`;
  });
}
