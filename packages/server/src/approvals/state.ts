import type { ApprovalTerms } from '@arden/policy';
import { ValidationError } from '../errors';
import type { ActionRecord } from '../store/records';

// The approval state of a held action, kept as JSON in `actions.approval`: the votes cast so far
// (two-person approval), the edits an approver made to the arguments (approve with edit), and
// where the decision was made (Arden's dashboard, API and CLI, or the app's own UI). Everything
// a receipt or an auditor needs: who, when, what they saw and what they changed.

/** Where a decision was made. */
export type DecisionChannel = 'dashboard' | 'app';

/** One approval or denial of a held action. */
export interface ApprovalVote {
  decision: 'approve' | 'deny';
  channel: DecisionChannel;
  /** The Arden user's id (dashboard), or null for an in-app decision. */
  userId: string | null;
  /** The Arden user's email, or the end user as the app asserts it (in-app). */
  user: string;
  at: number;
  notes: string | null;
  /** How many edits the call had when the vote was cast: votes count only for the current call. */
  round: number;
}

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

/** An approver's edit of a held call's arguments, and how the policies judged the edited call. */
export interface ApprovalEdit {
  userId: string;
  user: string;
  at: number;
  /** The operations applied (a patch as sent, or the replace computed from new arguments). */
  patch: JsonPatchOperation[];
  /** The keyword arguments' JSON text before and after the edit. */
  before: string;
  after: string;
  /** The edited call, evaluated again as if the agent had made it. */
  evaluation: {
    effect: 'allow' | 'requires_approval';
    reason: string;
    policy: { id?: string; name: string; tool: string; version?: number } | null;
    ruleIndex: number | null;
    explanation: string;
    /** The terms of the edited call's approval (requires_approval). */
    approval?: ApprovalTerms;
  };
}

/** `actions.approval`: everything decided about a held action so far. */
export interface ApprovalState {
  votes: ApprovalVote[];
  /** Edits, oldest first; the last one's `after` is the call that runs. */
  edits: ApprovalEdit[];
  /** Set once decided: where the deciding vote was cast, and by whom. */
  decidedIn?: DecisionChannel;
  decidedByUser?: string;
}

/** The terms an action's approval is under: its latest edit's, else its check's, else one approver. */
export function termsOf(action: ActionRecord): ApprovalTerms {
  const edit = action.approval?.edits.at(-1);
  const terms = edit ? edit.evaluation.approval : action.policy?.approval;
  return terms ?? { approvals: 1, approveIn: ['dashboard'] };
}

/**
 * Approvals needed: the terms', and at least two when the call was edited and the edited call is
 * held (an approver does not approve arguments they wrote alone).
 */
export function approvalsNeeded(action: ActionRecord): number {
  const terms = termsOf(action);
  const edited = action.approval?.edits.at(-1);
  return edited?.evaluation.effect === 'requires_approval'
    ? Math.max(2, terms.approvals)
    : terms.approvals;
}

/** The approvals counted for the current call (votes since its last edit, the editor's included). */
export function approvalsSoFar(action: ActionRecord): ApprovalVote[] {
  const round = action.approval?.edits.length ?? 0;
  return (action.approval?.votes ?? []).filter(
    (vote) => vote.decision === 'approve' && vote.round === round,
  );
}

/** The keyword arguments' JSON text of the call that runs: the last edit's, else the original. */
export function effectiveKwargsJson(action: ActionRecord): string {
  return action.approval?.edits.at(-1)?.after ?? action.kwargsJson;
}

/** A short human diff of an edit: `amount: 4000 → 40; note: (none) → "checked"`. */
export function describeEdit(edit: ApprovalEdit): string {
  const before = safeParse(edit.before);
  const after = safeParse(edit.after);
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const changes = keys
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .map((key) => `${key}: ${show(before[key])} → ${show(after[key])}`);
  return changes.length > 0 ? changes.join('; ') : 'no visible change';
}

function show(value: unknown): string {
  if (value === undefined) return '(none)';
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function safeParse(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

const maxOperations = 100;

/**
 * Applies an RFC 6902 JSON patch to a copy of `document`; throws `ValidationError` (naming the
 * operation) for a malformed patch, a path that does not exist, or a failed `test`.
 */
export function applyJsonPatch(document: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch) || patch.length === 0 || patch.length > maxOperations) {
    throw new ValidationError(
      `patch must be an RFC 6902 JSON patch: a list of 1 to ${maxOperations} operations such as [{"op": "replace", "path": "/amount", "value": 40}].`,
      'patch',
    );
  }
  let result = structuredClone(document);
  patch.forEach((raw, index) => {
    const field = `patch[${index}]`;
    const operation = raw as Partial<JsonPatchOperation> | null;
    const fail = (why: string): never => {
      throw new ValidationError(`${field}: ${why}`, field);
    };
    if (operation === null || typeof operation !== 'object') fail('must be an object');
    const op = operation?.op;
    if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(String(op))) {
      fail('op must be add, remove, replace, move, copy or test');
    }
    const path = parsePointer(operation?.path, `${field}.path`);
    const needsValue = op === 'add' || op === 'replace' || op === 'test';
    if (needsValue && !('value' in (operation as object))) fail(`${op} needs a value`);
    const value = structuredClone(operation?.value);
    switch (op) {
      case 'test':
        if (JSON.stringify(read(result, path, fail)) !== JSON.stringify(value)) {
          fail(`test failed at ${operation?.path}: the value there is not the one given`);
        }
        break;
      case 'remove':
        result = remove(result, path, fail);
        break;
      case 'replace':
        result = replace(result, path, value, fail);
        break;
      case 'add':
        result = add(result, path, value, fail);
        break;
      case 'move':
      case 'copy': {
        const from = parsePointer(operation?.from, `${field}.from`);
        const moved = structuredClone(read(result, from, fail));
        if (op === 'move') result = remove(result, from, fail);
        result = add(result, path, moved, fail);
        break;
      }
    }
  });
  return result;
}

function parsePointer(pointer: unknown, field: string): string[] {
  if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/'))) {
    throw new ValidationError(`${field} must be a JSON pointer such as "/amount".`, field);
  }
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

type Fail = (why: string) => never;

function container(document: unknown, path: string[], fail: Fail): unknown {
  let node = document;
  for (const token of path) {
    if (Array.isArray(node) && /^(0|[1-9][0-9]*)$/.test(token) && Number(token) < node.length) {
      node = node[Number(token)];
    } else if (
      node !== null &&
      typeof node === 'object' &&
      !Array.isArray(node) &&
      Object.hasOwn(node, token)
    ) {
      node = (node as Record<string, unknown>)[token];
    } else {
      fail(`no value at /${path.join('/')}`);
    }
  }
  return node;
}

function read(document: unknown, path: string[], fail: Fail): unknown {
  return container(document, path, fail);
}

function remove(document: unknown, path: string[], fail: Fail): unknown {
  if (path.length === 0) fail('cannot remove the whole document');
  const parent = container(document, path.slice(0, -1), fail);
  const last = path.at(-1) as string;
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!/^(0|[1-9][0-9]*)$/.test(last) || index >= parent.length)
      fail(`no value at /${path.join('/')}`);
    parent.splice(index, 1);
  } else if (parent !== null && typeof parent === 'object' && Object.hasOwn(parent, last)) {
    delete (parent as Record<string, unknown>)[last];
  } else {
    fail(`no value at /${path.join('/')}`);
  }
  return document;
}

function replace(document: unknown, path: string[], value: unknown, fail: Fail): unknown {
  if (path.length === 0) return value;
  read(document, path, fail);
  const parent = container(document, path.slice(0, -1), fail) as Record<string, unknown>;
  // In place: the key keeps its position in the object.
  parent[path.at(-1) as string] = value;
  return document;
}

function add(document: unknown, path: string[], value: unknown, fail: Fail): unknown {
  if (path.length === 0) return value;
  const parent = container(document, path.slice(0, -1), fail);
  const last = path.at(-1) as string;
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (last !== '-' && (!/^(0|[1-9][0-9]*)$/.test(last) || index > parent.length)) {
      fail(`no array index ${last} at /${path.slice(0, -1).join('/')}`);
    }
    parent.splice(index, 0, value);
  } else if (parent !== null && typeof parent === 'object') {
    if (last === '__proto__') fail('the key __proto__ is not allowed');
    (parent as Record<string, unknown>)[last] = value;
  } else {
    fail(`/${path.slice(0, -1).join('/')} is not an object or a list`);
  }
  return document;
}

/** The replace operations that turn `before` into `after` (top-level keys), for the record. */
export function patchBetween(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = [];
  const pointerTo = (key: string) => `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  for (const key of Object.keys(before)) {
    if (!Object.hasOwn(after, key)) operations.push({ op: 'remove', path: pointerTo(key) });
    else if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) {
      operations.push({ op: 'replace', path: pointerTo(key), value: after[key] });
    }
  }
  for (const key of Object.keys(after)) {
    if (!Object.hasOwn(before, key))
      operations.push({ op: 'add', path: pointerTo(key), value: after[key] });
  }
  return operations;
}
