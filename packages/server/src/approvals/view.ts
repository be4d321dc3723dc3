import type { ActionRecord } from '../store/records';
import { approvalsNeeded, approvalsSoFar, termsOf } from './state';

// The `approval` field of an action in the admin API: who must approve, the votes, the edits.

const iso = (time: number) => new Date(time).toISOString();

/** The approval state of an action, for the admin API; null for a call that was never held. */
export function approvalView(action: ActionRecord) {
  const held = action.decision === 'requires_approval';
  if (!held && !action.approval) return null;
  const terms = termsOf(action);
  const state = action.approval ?? { votes: [], edits: [] };
  return {
    required: approvalsNeeded(action),
    approved: approvalsSoFar(action).length,
    from: terms.from ?? null,
    approve_in: terms.approveIn,
    exclude_requester: terms.excludeRequester ?? false,
    exclude_owner: terms.excludeOwner ?? false,
    decided_in: state.decidedIn ?? (action.decidedBy ? 'dashboard' : null),
    decided_by_user: state.decidedByUser ?? null,
    votes: state.votes.map((vote) => ({
      decision: vote.decision,
      channel: vote.channel,
      user_id: vote.userId,
      user: vote.user,
      at: iso(vote.at),
      notes: vote.notes,
      round: vote.round,
    })),
    edits: state.edits.map((edit) => ({
      user_id: edit.userId,
      user: edit.user,
      at: iso(edit.at),
      patch: edit.patch as unknown as Record<string, unknown>[],
      before_json: edit.before,
      after_json: edit.after,
      effect: edit.evaluation.effect,
      explanation: edit.evaluation.explanation,
    })),
  } as const;
}
