import { type ApprovalTerms, parseExactJsonMembers } from '@arden/policy';
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

/** A short human diff of an edit, from the texts: `amount: 4000 → 40; note: (none) → "checked"`. */
export function describeEdit(edit: ApprovalEdit): string {
  const before = memberTexts(edit.before);
  const after = memberTexts(edit.after);
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  const changes = keys
    .filter((key) => before.get(key) !== after.get(key))
    .map((key) => `${key}: ${show(before.get(key))} → ${show(after.get(key))}`);
  return changes.length > 0 ? changes.join('; ') : 'no visible change';
}

function show(text: string | undefined): string {
  if (text === undefined) return '(none)';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Each top-level argument's JSON text, as written (big integers are not rounded). */
function memberTexts(text: string): Map<string, string> {
  try {
    return parseExactJsonMembers(text).sources;
  } catch {
    return new Map();
  }
}
