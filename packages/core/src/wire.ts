// The agent API's JSON shapes (snake_case, as ardenpy 0.5.x sends and parses them).

/**
 * The decisions the agent API answers with, in one list that the run-time check of an answer
 * reads; `Decision` is its type, held to the server's contract by `wire.contract.test-d.ts`.
 */
export const DECISIONS = ['allow', 'block', 'requires_approval'] as const;

/** A policy decision. */
export type Decision = (typeof DECISIONS)[number];

/** Body of `POST /policy/check`. */
export interface CheckRequestBody {
  tool_name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** Answer of `POST /policy/check`. */
export interface CheckResponseBody {
  decision: Decision;
  action_id: string;
  reason?: string;
  status?: 'completed' | 'pending';
  environment?: string;
  message?: string;
  policy?: unknown;
  /** Extension: with `no_policy_configured`, policies' tools that differ only by a prefix. */
  similar_policy_tools?: string[];
}

/** Status of an action held for approval. */
export type ActionStatus = 'pending' | 'approved' | 'denied';

/** Answer of `GET /status/{action_id}`. */
export interface StatusResponseBody {
  action_id: string;
  status: ActionStatus;
  message?: string | null;
  created_at?: string;
  /**
   * Approved with edited arguments (only for clients that said `capabilities=edits`): the call
   * to run. Other clients read such an approval as `denied`.
   */
  edited?: {
    kwargs: Record<string, unknown>;
    kwargs_json: string;
    original_kwargs_json?: string;
    patch?: unknown[];
    edited_by?: string | null;
    edited_at?: string;
  };
  /** `app`: decided in the app by its end user (`decided_by_user`). */
  decided_in?: 'app';
  decided_by_user?: string | null;
}

/** One usage event as sent to `POST /token-usage`. */
export interface UsageEventBody {
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  session_id?: string;
  occurred_at?: string;
}

/** Body of `POST /v1/actions/{action_id}/result`. */
export interface ResultReportBody {
  status: 'succeeded' | 'failed';
  duration_ms: number;
  error?: string;
  result?: unknown;
}

/** A webhook delivery's body. */
export interface WebhookPayload {
  event_type: 'action_approved' | 'action_denied';
  action: {
    action_id: string;
    tool_name: string;
    agent_id?: string;
    /** The call's keyword arguments (ardenpy re-runs the tool with `**context`). */
    context?: Record<string, unknown>;
    /** Positional arguments, when the call had any (an Arden extension). */
    args?: unknown[];
    created_at?: string;
    environment?: string;
  };
  approval?: { admin_user_id?: string | null; notes?: string | null };
}
