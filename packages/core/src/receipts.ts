/**
 * Receipts: an Arden server signs every decision (allow, block, approve, deny, expire), bound to
 * the exact call. `verifyReceipt` checks one offline with the server's published keys
 * (`/.well-known/arden-keys.json`) and Web Crypto only, so the same code runs in Node.js 20+,
 * Deno, Bun, workers and browsers.
 *
 * Two forms exist. The batched form (what servers issue now) is
 * `r2~<claims>~<proof>~<root JWS>`: the claims (base64url of their JSON bytes) are a leaf of a
 * Merkle tree (RFC 6962 hashing: SHA-256, 0x00 before a leaf, 0x01 before two child hashes) over
 * the receipts of one group commit, `<proof>` is the leaf's index and its inclusion path
 * (`<index>.<hash>.<hash>…`, base64url SHA-256 hashes from the leaf up), and the root JWS
 * (EdDSA, Ed25519, `typ: arden-receipt-root+jwt`) signs `{root, size, iat}`. The older form is a
 * compact JWS (EdDSA) of the claims themselves; it still verifies.
 */
import { ArdenError } from './errors';

/** The decisions a receipt can record; `hold` is a check that held the call for approval. */
export type ReceiptDecision = 'allow' | 'block' | 'hold' | 'approve' | 'deny' | 'expire';

/** Who or what made the decision a receipt records. */
export interface ReceiptDecider {
  /** `policy` (allow/block at the check), `user` (an approver in Arden), `app` (an in-app decision reported by the agent's app), `timeout` (expiry). */
  type: 'policy' | 'user' | 'app' | 'timeout';
  /** The user's id or e-mail (for `user` and `app`), else null. */
  id: string | null;
}

/** The claims of a receipt (its JWS payload). Field names are snake_case, as on the wire. */
export interface ReceiptClaims {
  /** Receipt format version: 1. */
  v: 1;
  /** The receipt's own id (unique per decision). */
  jti: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** When the decision was made, ms since the epoch. */
  decided_at: number;
  action_id: string;
  agent_id: string;
  environment: string;
  session_id: string | null;
  tool: string;
  /** SHA-256 (hex) of the positional arguments' JSON text exactly as the server kept it. */
  args_sha256: string;
  /** SHA-256 (hex) of the keyword arguments' JSON text exactly as the server kept it. */
  kwargs_sha256: string;
  decision: ReceiptDecision;
  /** Whether this decision lets the call run (allow, approve, or expiry with `on_timeout: allow`). */
  runs: boolean;
  reason: string | null;
  policy: {
    id: string | null;
    name: string;
    version: number | null;
    rule_index: number | null;
  } | null;
  decided_by: ReceiptDecider;
  /**
   * Set when an approver edited the arguments before approving: the hashes of the call as the
   * agent made it (`args_sha256`/`kwargs_sha256` above then bind the edited call, the one to run).
   */
  edited?: { original_args_sha256: string; original_kwargs_sha256: string; by: string | null };
  /** Where the approval was given: `dashboard` (or the admin API/CLI) or `app` (in-app). */
  approved_in?: 'dashboard' | 'app';
  /** Every distinct approver of a multi-person approval, in the order they approved. */
  approvers?: string[];
  /**
   * Sensitive argument paths (policy `redact`) present in the call: the server stores them
   * encrypted and shows them masked. `args_sha256`/`kwargs_sha256` still bind the verbatim call.
   */
  redacted?: string[];
  /** With `redacted`: SHA-256 (hex) of the masked keyword arguments' JSON text the server stores. */
  stored_kwargs_sha256?: string;
}

/** One public key of `/.well-known/arden-keys.json` (a JWK). */
export interface ReceiptPublicKey {
  kty: 'OKP';
  crv: 'Ed25519';
  kid: string;
  x: string;
  alg?: 'EdDSA';
  use?: 'sig';
  /** When the key was created (ISO), and retired (no longer signs, still verifies). */
  created_at?: string;
  retired_at?: string | null;
}

/** The call a receipt is checked against: what is about to run. */
export interface ReceiptCall {
  toolName: string;
  /** The positional arguments' JSON text as sent, or the values (serialized with `JSON.stringify`). */
  argsJson?: string;
  args?: readonly unknown[];
  /** The keyword arguments' JSON text as sent, or the values (serialized with `JSON.stringify`). */
  kwargsJson?: string;
  kwargs?: Record<string, unknown>;
  /** Optional: must equal the receipt's, when given. */
  actionId?: string;
  agentId?: string;
  environment?: string;
  sessionId?: string | null;
}

/** Options of `verifyReceipt`. */
export interface VerifyReceiptOptions {
  /** Refuse receipts issued more than this many seconds ago (default: no limit). */
  maxAgeSeconds?: number;
  /** Also require that the decision lets the call run (default false). */
  requireRuns?: boolean;
  /** The current time in ms (default `Date.now()`). */
  now?: number;
  /**
   * Require an approval by at least this many distinct people (`approvers`, or the one decider
   * of an `approve` receipt without it); a downstream service can demand two for what matters.
   */
  minApprovers?: number;
}

/** Why a receipt was refused. */
export type ReceiptFailure =
  | 'malformed'
  | 'unknown_key'
  | 'bad_signature'
  | 'call_mismatch'
  | 'does_not_run'
  | 'too_few_approvers'
  | 'expired';

const receiptMarker = Symbol.for('arden.error.receipt');

/** A receipt failed verification; `code` says why. */
export class ReceiptVerificationError extends ArdenError {
  protected readonly [receiptMarker] = true;
  readonly code: ReceiptFailure;
  /** For `call_mismatch`: the claim that differs (`tool`, `kwargs_sha256`, …). */
  readonly field: string | undefined;

  constructor(code: ReceiptFailure, message: string, field?: string) {
    super(message);
    this.name = 'ReceiptVerificationError';
    this.code = code;
    this.field = field;
  }

  static override isInstance(error: unknown): error is ReceiptVerificationError {
    return (
      error != null &&
      typeof error === 'object' &&
      (error as Record<symbol, unknown>)[receiptMarker] === true
    );
  }
}

const encoder = new TextEncoder();

/** The first part of a batched receipt (`r2~claims~proof~root JWS`). */
export const batchedReceiptPrefix = 'r2';
/** The `typ` of the JWS that signs a batch's Merkle root. */
export const receiptRootType = 'arden-receipt-root+jwt';
/** The `typ` of a single-signature (older form) receipt. */
export const receiptType = 'arden-receipt+jwt';

/** The signed payload of a batched receipt's root JWS. */
export interface ReceiptRoot {
  /** The Merkle tree hash of the batch (base64url SHA-256). */
  root: string;
  /** How many receipts the batch holds (leaves of the tree). */
  size: number;
  /** Issued at, seconds since the epoch. */
  iat: number;
}

/** A decoded receipt: the signing JWS's header, the claims, and (batched form) the proof. */
export interface DecodedReceipt {
  /** The header of the JWS that carries the signature (the root JWS for the batched form). */
  header: { alg: string; kid: string; typ?: string };
  claims: ReceiptClaims;
  /** The batched form's inclusion proof and signed root; absent for the single-JWS form. */
  batch?: { index: number; path: string[]; root: ReceiptRoot };
}

function subtle(): SubtleCrypto {
  const crypto = (globalThis as { crypto?: Crypto }).crypto;
  if (!crypto?.subtle) {
    throw new ArdenError(
      'Web Crypto (globalThis.crypto.subtle) is not available; receipts need Node.js 20 or newer, or a runtime with Web Crypto.',
    );
  }
  return crypto.subtle;
}

/** Base64url without padding, from bytes. */
export function base64UrlEncode(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Bytes from base64url (padding optional); throws on other characters. */
export function base64UrlDecode(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** SHA-256 (lowercase hex) of a text's UTF-8 bytes: how receipts bind argument JSON. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await subtle().digest('SHA-256', encoder.encode(text)));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

const malformed = (message: string) => new ReceiptVerificationError('malformed', message);

function jsonOf(part: string): unknown {
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64UrlDecode(part)));
}

/** Reads a receipt's claims without checking its signature (for display only). */
export function decodeReceipt(receipt: string): DecodedReceipt {
  const text = typeof receipt === 'string' ? receipt : '';
  if (text.startsWith(`${batchedReceiptPrefix}~`)) return decodeBatched(text);
  const parts = text.split('.');
  if (parts.length !== 3) {
    throw malformed(
      'A receipt is "r2~claims~proof~root JWS" (batched) or a compact JWS (three base64url parts separated by dots).',
    );
  }
  try {
    const header = jsonOf(parts[0] as string) as DecodedReceipt['header'];
    const claims = jsonOf(parts[1] as string) as ReceiptClaims;
    if (typeof header?.kid !== 'string' || typeof claims !== 'object' || claims === null) {
      throw new Error('shape');
    }
    return { header, claims };
  } catch {
    throw malformed(
      'The receipt is not a valid JWS: its header or payload is not base64url JSON with a key id.',
    );
  }
}

function decodeBatched(receipt: string): DecodedReceipt {
  const parts = receipt.split('~');
  if (parts.length !== 4) {
    throw malformed('A batched receipt has four parts: "r2~claims~proof~root JWS".');
  }
  const [, claimsPart, proofPart, rootJws] = parts as [string, string, string, string];
  const jwsParts = rootJws.split('.');
  const proof = proofPart.split('.');
  const index = proof[0] ?? '';
  if (jwsParts.length !== 3 || !/^(0|[1-9][0-9]{0,15})$/.test(index)) {
    throw malformed("The batched receipt's proof or root JWS is not in its format.");
  }
  const path = proof.slice(1);
  try {
    const claims = jsonOf(claimsPart) as ReceiptClaims;
    const header = jsonOf(jwsParts[0] as string) as DecodedReceipt['header'];
    const root = jsonOf(jwsParts[1] as string) as ReceiptRoot;
    if (
      typeof claims !== 'object' ||
      claims === null ||
      typeof header?.kid !== 'string' ||
      typeof root?.root !== 'string' ||
      !Number.isSafeInteger(root.size) ||
      root.size < 1 ||
      !path.every((hash) => base64UrlDecode(hash).length === 32) ||
      base64UrlDecode(root.root).length !== 32
    ) {
      throw new Error('shape');
    }
    return { header, claims, batch: { index: Number(index), path, root } };
  } catch {
    throw malformed(
      'The batched receipt is not valid: its claims, inclusion path or signed root is not in its format.',
    );
  }
}

async function sha256(...chunks: Uint8Array[]): Promise<Uint8Array> {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

const leafPrefix = new Uint8Array([0]);
const nodePrefix = new Uint8Array([1]);

/**
 * The root a leaf's inclusion path leads to (RFC 9162, 2.1.3.2), or undefined when the path
 * cannot belong to a tree of `size` leaves at `index`.
 */
async function rootFromPath(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
): Promise<Uint8Array | undefined> {
  if (index >= size) return undefined;
  // Bit arithmetic on 2^53-safe integers, without 32-bit `>>`.
  const half = (value: number) => Math.floor(value / 2);
  let fn = index;
  let sn = size - 1;
  let hash = leaf;
  for (const sibling of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      hash = await sha256(nodePrefix, sibling, hash);
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      hash = await sha256(nodePrefix, hash, sibling);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? hash : undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++)
    difference |= (a[index] as number) ^ (b[index] as number);
  return difference === 0;
}

function keyList(keys: readonly ReceiptPublicKey[] | { keys: readonly ReceiptPublicKey[] }) {
  return Array.isArray(keys) ? keys : (keys as { keys: readonly ReceiptPublicKey[] }).keys;
}

/**
 * Verifies a receipt offline: its EdDSA signature against `keys` (the server's
 * `/.well-known/arden-keys.json`, or its `keys` list), then — when `call` is given — that it was
 * issued for exactly that call: the tool name, the argument bytes (SHA-256 of the JSON text),
 * and the action, agent, environment and session when the call names them. Returns the claims;
 * throws `ReceiptVerificationError` (with `code`) otherwise. Use it before acting on a call
 * that Arden decided, for example in the service behind the tool; remember the receipt's `jti`
 * there to use each receipt once.
 */
export async function verifyReceipt(
  receipt: string,
  call: ReceiptCall | undefined,
  keys: readonly ReceiptPublicKey[] | { keys: readonly ReceiptPublicKey[] },
  options: VerifyReceiptOptions = {},
): Promise<ReceiptClaims> {
  const { header, claims, batch } = decodeReceipt(receipt);
  if (header.alg !== 'EdDSA') {
    throw new ReceiptVerificationError(
      'malformed',
      `The receipt's algorithm is "${String(header.alg)}"; Arden receipts are EdDSA (Ed25519).`,
    );
  }
  // A JWS of another kind (a batch root, an audit checkpoint) is never a receipt by itself.
  const expectedType = batch ? receiptRootType : receiptType;
  if (header.typ !== expectedType && (batch || header.typ !== undefined)) {
    throw new ReceiptVerificationError(
      'malformed',
      `The receipt's signed part is a "${String(header.typ)}", not a "${expectedType}".`,
    );
  }
  const key = keyList(keys).find((candidate) => candidate.kid === header.kid);
  if (key?.kty !== 'OKP' || key.crv !== 'Ed25519' || typeof key.x !== 'string') {
    throw new ReceiptVerificationError(
      'unknown_key',
      `The receipt was signed with key "${header.kid}", which is not among the keys given; fetch the server's /.well-known/arden-keys.json (it keeps retired keys).`,
    );
  }
  const jws = batch ? (receipt.split('~')[3] as string) : receipt;
  const [headerPart, payloadPart, signaturePart] = jws.split('.') as [string, string, string];
  let valid = false;
  try {
    const publicKey = await subtle().importKey(
      'jwk',
      { kty: 'OKP', crv: 'Ed25519', x: key.x },
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    valid = await subtle().verify(
      { name: 'Ed25519' },
      publicKey,
      base64UrlDecode(signaturePart) as Uint8Array<ArrayBuffer>,
      encoder.encode(`${headerPart}.${payloadPart}`),
    );
  } catch {
    valid = false;
  }
  if (!valid) {
    throw new ReceiptVerificationError(
      'bad_signature',
      'The receipt signature does not verify: it was altered or not signed by this Arden server.',
    );
  }
  if (batch) {
    // The signed root must be the root the claims' leaf and its path lead to.
    const leaf = await sha256(leafPrefix, base64UrlDecode(receipt.split('~')[1] as string));
    const root = await rootFromPath(
      leaf,
      batch.index,
      batch.root.size,
      batch.path.map((hash) => base64UrlDecode(hash)),
    );
    if (!root || !sameBytes(root, base64UrlDecode(batch.root.root))) {
      throw new ReceiptVerificationError(
        'bad_signature',
        "The receipt's claims and inclusion path do not lead to the signed root: the claims or the path were altered, or they belong to another receipt.",
      );
    }
  }
  if (claims.v !== 1 || typeof claims.action_id !== 'string' || typeof claims.tool !== 'string') {
    throw new ReceiptVerificationError('malformed', 'The receipt is not an Arden receipt (v1).');
  }
  const shapeProblem = optionalClaimsProblem(claims);
  if (shapeProblem) {
    throw new ReceiptVerificationError('malformed', `The receipt's ${shapeProblem}.`);
  }
  if (options.maxAgeSeconds !== undefined) {
    const age = ((options.now ?? Date.now()) - claims.decided_at) / 1000;
    if (age > options.maxAgeSeconds) {
      throw new ReceiptVerificationError(
        'expired',
        `The receipt is ${Math.round(age)} s old; at most ${options.maxAgeSeconds} s is accepted.`,
      );
    }
  }
  if (call) await assertReceiptCoversCall(claims, call);
  if (options.requireRuns && !claims.runs) {
    throw new ReceiptVerificationError(
      'does_not_run',
      `The receipt records "${claims.decision}" for action ${claims.action_id}: it does not let the call run.`,
    );
  }
  if (options.minApprovers !== undefined) {
    const count = approversOf(claims).length;
    if (count < options.minApprovers) {
      throw new ReceiptVerificationError(
        'too_few_approvers',
        `The receipt records ${count} approver(s) for action ${claims.action_id}; at least ${options.minApprovers} distinct approvers are required.`,
      );
    }
  }
  return claims;
}

/**
 * The distinct people who approved the call a receipt records: its `approvers` (a
 * multi-person approval), else the one decider of an `approve` receipt, else none.
 */
export function approversOf(claims: ReceiptClaims): string[] {
  if (claims.decision !== 'approve') return [];
  if (claims.approvers) return [...new Set(claims.approvers)];
  return claims.decided_by.id ? [claims.decided_by.id] : [];
}

const sha256Pattern = /^[0-9a-f]{64}$/;

// The claims added for approve-with-edit, in-app and multi-person approvals must have their
// documented shapes when present: a verifier reads them to decide.
function optionalClaimsProblem(claims: ReceiptClaims): string | undefined {
  const { edited, approved_in: approvedIn, approvers, redacted } = claims;
  if (
    edited !== undefined &&
    (edited === null ||
      typeof edited !== 'object' ||
      !sha256Pattern.test(String(edited.original_args_sha256)) ||
      !sha256Pattern.test(String(edited.original_kwargs_sha256)) ||
      (edited.by !== null && typeof edited.by !== 'string'))
  ) {
    return '"edited" claim is not {original_args_sha256, original_kwargs_sha256, by}';
  }
  if (approvedIn !== undefined && approvedIn !== 'dashboard' && approvedIn !== 'app') {
    return '"approved_in" claim is neither "dashboard" nor "app"';
  }
  const strings = (value: unknown) =>
    Array.isArray(value) && value.every((item) => typeof item === 'string');
  if (approvers !== undefined && !strings(approvers)) {
    return '"approvers" claim is not a list of user names';
  }
  if (redacted !== undefined && !strings(redacted)) {
    return '"redacted" claim is not a list of argument paths';
  }
  if (
    claims.stored_kwargs_sha256 !== undefined &&
    !sha256Pattern.test(String(claims.stored_kwargs_sha256))
  ) {
    return '"stored_kwargs_sha256" claim is not a SHA-256 in hex';
  }
  return undefined;
}

/**
 * Checks that verified claims were issued for `call` (see `verifyReceipt`); throws
 * `ReceiptVerificationError` with code `call_mismatch` naming the first claim that differs.
 */
export async function assertReceiptCoversCall(
  claims: ReceiptClaims,
  call: ReceiptCall,
): Promise<void> {
  const mismatch = (field: string, what: string) =>
    new ReceiptVerificationError(
      'call_mismatch',
      `The receipt is for another call: its ${what} differs (${field}). A receipt covers one call, with exactly the arguments that were checked or approved.`,
      field,
    );
  if (claims.tool !== call.toolName) throw mismatch('tool', 'tool name');
  const argsJson = call.argsJson ?? JSON.stringify(call.args ?? []);
  const kwargsJson = call.kwargsJson ?? JSON.stringify(call.kwargs ?? {});
  if ((await sha256Hex(argsJson)) !== claims.args_sha256) {
    throw mismatch('args_sha256', 'positional arguments');
  }
  if ((await sha256Hex(kwargsJson)) !== claims.kwargs_sha256) {
    throw mismatch('kwargs_sha256', 'arguments');
  }
  if (call.actionId !== undefined && call.actionId !== claims.action_id) {
    throw mismatch('action_id', 'action');
  }
  if (call.agentId !== undefined && call.agentId !== claims.agent_id) {
    throw mismatch('agent_id', 'agent');
  }
  if (call.environment !== undefined && call.environment !== claims.environment) {
    throw mismatch('environment', 'environment');
  }
  if (call.sessionId !== undefined && call.sessionId !== claims.session_id) {
    throw mismatch('session_id', 'session');
  }
}
