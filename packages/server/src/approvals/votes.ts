import type { PolicyDecision } from '@arden/policy';
import { ConflictError, ForbiddenError, ValidationError } from '../errors';
import type { PolicyService } from '../policies/service';
import type { Repositories } from '../store';
import type { ActionRecord } from '../store/records';
import { withoutNul } from '../text';
import {
  applyExactPatch,
  compactJson,
  exactArguments,
  exactOperations,
  patchBetweenTexts,
  sameValue,
} from './exact-edit';
import {
  type ApprovalEdit,
  type ApprovalState,
  type ApprovalVote,
  approvalsNeeded,
  approvalsSoFar,
  type DecisionChannel,
  effectiveKwargsJson,
  termsOf,
} from './state';

// One vote on a held action, inside the transaction that locked it: who may vote (groups, the
// requester, the agent's owner, distinct users, where), the edit an approver made (evaluated again as if the agent
// had made the call), and whether the vote decides the action.

/** A human decision on a held action. */
export interface DecisionInput {
  decision: 'approve' | 'deny';
  /** The deciding user's id (written to the log and the webhook's `admin_user_id`). */
  userId: string | null;
  notes?: string | null;
  /** Approve with edit: an RFC 6902 JSON patch of the keyword arguments… */
  patch?: unknown;
  /** …or the edited keyword arguments whole (the dashboard's editor). */
  kwargs?: unknown;
  /**
   * The JSON text of `patch` or `kwargs` as the approver sent it (the request body's), so that
   * their values are kept as written: 12345678901234567891 or 1.0 are not read as doubles. When
   * absent, the parsed values are written out again.
   */
  patchJson?: string;
  kwargsJson?: string;
  /** Where the decision is made: `dashboard` (default: admin API, dashboard, CLI) or `app`. */
  channel?: DecisionChannel;
  /** In-app decisions: the end user, as the app asserts it. */
  appUser?: string;
}

/** What a vote did: decided the action, or was counted while it waits for more. */
export type VoteOutcome =
  | { final: true; status: 'approved' | 'denied'; state: ApprovalState; notes: string | null }
  | { final: false; state: ApprovalState };

/** Counts `input` on the pending, locked action `current`; throws when it may not vote. */
export async function castVote(
  repositories: Repositories,
  policies: PolicyService | undefined,
  current: ActionRecord,
  input: DecisionInput,
  now: number,
): Promise<VoteOutcome> {
  const channel = input.channel ?? 'dashboard';
  const terms = termsOf(current);
  if (!terms.approveIn.includes(channel)) {
    throw new ForbiddenError(
      channel === 'app'
        ? `Action ${current.id} may not be decided in the app: its policy's approve_in is [${terms.approveIn.join(', ')}]. Add app to approve_in to allow in-app decisions.`
        : `Action ${current.id} is decided in the app only (its policy's approve_in is [app]).`,
    );
  }
  const voter = await identify(repositories, current, input, channel);
  const notes = input.notes ? withoutNul(input.notes.slice(0, 4_000)) : null;
  const state: ApprovalState = structuredClone(current.approval ?? { votes: [], edits: [] });
  const round = state.edits.length;
  const same = (vote: ApprovalVote) =>
    vote.round === round && vote.channel === channel && vote.user === voter.user;
  if (state.votes.some(same)) {
    throw new ConflictError(
      `${voter.user} already approved action ${current.id}; it needs ${approvalsNeeded(current)} approvals from distinct users (${approvalsSoFar(current).length} so far).`,
      { status: current.status },
    );
  }
  let edit: ApprovalEdit | undefined;
  if (input.patch !== undefined || input.kwargs !== undefined) {
    if (input.decision !== 'approve' || channel !== 'dashboard') {
      throw new ValidationError(
        'Only an approval from an approver can edit the arguments.',
        'patch',
      );
    }
    if (await repositories.sensitive.get(current.id)) {
      // The stored call is masked: an edit of it would run "[redacted]" in place of the values.
      throw new ConflictError(
        `Action ${current.id} has sensitive arguments (its policy's redact), which cannot be edited: approve it as it is, or deny it with notes saying what to change so the agent makes the call again.`,
        { status: current.status },
      );
    }
    edit = await editCall(repositories, policies, current, input, voter, now);
    if (edit) state.edits.push(edit);
  }
  state.votes.push({
    decision: input.decision,
    channel,
    userId: voter.userId,
    user: voter.user,
    at: now,
    notes,
    round: state.edits.length,
  });
  const candidate = { ...current, approval: state };
  const final =
    input.decision === 'deny' ||
    edit?.evaluation.effect === 'allow' ||
    approvalsSoFar(candidate).length >= approvalsNeeded(candidate);
  if (!final) return { final: false, state };
  state.decidedIn = channel;
  state.decidedByUser = voter.user;
  return {
    final: true,
    status: input.decision === 'approve' ? 'approved' : 'denied',
    state,
    notes,
  };
}

async function identify(
  repositories: Repositories,
  current: ActionRecord,
  input: DecisionInput,
  channel: DecisionChannel,
): Promise<{ userId: string | null; user: string; groups: string[] }> {
  if (channel === 'app') {
    const user = typeof input.appUser === 'string' ? input.appUser.trim() : '';
    if (user === '' || user.length > 254) {
      throw new ValidationError(
        'user must name the end user who decided in the app (an email or id, up to 254 characters).',
        'user',
      );
    }
    return { userId: null, user: withoutNul(user), groups: [] };
  }
  const terms = termsOf(current);
  const record = input.userId ? await repositories.users.get(input.userId) : undefined;
  const user = record?.email ?? input.userId ?? 'unknown';
  const groups = input.userId ? await repositories.approvals.groupsOf(input.userId) : [];
  if (terms.from && !terms.from.some((group) => groups.includes(group))) {
    throw new ForbiddenError(
      `Only members of ${terms.from.map((group) => `"${group}"`).join(' or ')} may decide action ${current.id}; ${user} is in ${groups.length > 0 ? groups.join(', ') : 'no group'}.`,
    );
  }
  const requester = current.metadata?.requested_by;
  if (
    terms.excludeRequester &&
    typeof requester === 'string' &&
    [record?.email, input.userId].some(
      (name) => typeof name === 'string' && name.toLowerCase() === requester.toLowerCase(),
    )
  ) {
    throw new ForbiddenError(
      `${user} started this session (metadata.requested_by), and the policy excludes the requester from deciding action ${current.id}; ${whoMustDecide(current, 'the requester')} must decide.`,
    );
  }
  if (terms.excludeOwner && input.userId !== null) {
    const agent = await repositories.agents.get(current.agentId);
    if (agent?.ownerUserId && agent.ownerUserId === input.userId) {
      throw new ForbiddenError(
        `${user} owns agent ${agent.name}, and the policy excludes the agent's owner from deciding action ${current.id} (exclude_owner); ${whoMustDecide(current, 'the owner')} must decide.`,
      );
    }
  }
  return { userId: input.userId, user, groups };
}

/** "another approver", or "a member of "finance" other than the owner", and what is left. */
function whoMustDecide(current: ActionRecord, excluded: string): string {
  const terms = termsOf(current);
  const who = terms.from
    ? `a member of ${terms.from.map((group) => `"${group}"`).join(' or ')} other than ${excluded}`
    : `an approver other than ${excluded}`;
  const needed = approvalsNeeded(current);
  if (needed <= 1) return who;
  return `${who} (${approvalsSoFar(current).length} of ${needed} approvals so far)`;
}

/** Applies the edit and evaluates the edited call; undefined when it changes nothing. */
async function editCall(
  repositories: Repositories,
  policies: PolicyService | undefined,
  current: ActionRecord,
  input: DecisionInput,
  voter: { userId: string | null; user: string },
  now: number,
): Promise<ApprovalEdit | undefined> {
  if (!policies || !voter.userId) {
    throw new ValidationError('Edits need an approver and the policy service.', 'patch');
  }
  const beforeJson = effectiveKwargsJson(current);
  if (input.patch !== undefined && input.kwargs !== undefined) {
    throw new ValidationError('Send either patch or kwargs, not both.', 'patch');
  }
  const field = input.patch !== undefined ? 'patch' : 'kwargs';
  // The edit is made on the text: the values it does not touch keep their bytes, and the
  // approver's values are kept as they wrote them (the request body's text, when there is one).
  let afterJson: string;
  if (input.patch !== undefined) {
    afterJson = applyExactPatch(beforeJson, exactOperations(input.patch, input.patchJson));
  } else {
    let text = input.kwargsJson;
    if (text === undefined) {
      try {
        text = JSON.stringify(input.kwargs);
      } catch {
        text = undefined;
      }
    }
    if (text === undefined) {
      throw new ValidationError(
        'The edited arguments must be an object of keyword arguments ({"amount": 40}).',
        'kwargs',
      );
    }
    // The approver's values as written; only the whitespace between them goes.
    exactArguments(text, 'kwargs');
    afterJson = compactJson(text);
  }
  if (Buffer.byteLength(afterJson) > 256 * 1024) {
    throw new ValidationError('The edited arguments are over 256 KiB.', field);
  }
  // The edited call is judged on the exact values it runs with, as a check's arguments are.
  const after = exactArguments(afterJson, field);
  if (afterJson === beforeJson || sameValue(exactArguments(beforeJson, field), after)) {
    return undefined;
  }
  const agent = await repositories.agents.get(current.agentId);
  if (!agent) throw new ConflictError(`The agent of action ${current.id} no longer exists.`);
  const decision: PolicyDecision = await policies.decide(
    agent,
    current.environment,
    {
      tool: current.toolName,
      kwargs: after,
      sessionId: current.sessionId,
      mcp: current.metadata?.mcp,
    },
    now,
  );
  const policy = decision.policy
    ? {
        name: decision.policy.name,
        tool: decision.policy.tool,
        ...(decision.policy.id === undefined ? {} : { id: decision.policy.id }),
        ...(decision.policy.version === undefined ? {} : { version: decision.policy.version }),
      }
    : null;
  if (decision.effect === 'block') {
    throw new ConflictError(
      `The edited call would be blocked, so it was not approved and the action is still pending: ${decision.explanation} Edit it otherwise, approve it unchanged, or deny it.`,
      { status: current.status, effect: 'block', policy },
    );
  }
  return {
    userId: voter.userId,
    user: voter.user,
    at: now,
    patch:
      input.patch !== undefined
        ? (input.patch as ApprovalEdit['patch'])
        : patchBetweenTexts(beforeJson, afterJson),
    before: beforeJson,
    after: afterJson,
    evaluation: {
      effect: decision.effect,
      reason: decision.reason,
      policy,
      ruleIndex: decision.ruleIndex ?? null,
      explanation: decision.explanation,
      ...(decision.effect === 'requires_approval'
        ? { approval: decision.approval ?? { approvals: 1, approveIn: ['dashboard'] } }
        : {}),
    },
  };
}
