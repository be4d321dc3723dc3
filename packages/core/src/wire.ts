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
  /** Extension: the signed receipt of the decision (see `verifyReceipt`). */
  receipt?: string;
}

/** Status of an action held for approval. */
export type ActionStatus = 'pending' | 'approved' | 'denied';

/** Answer of `GET /status/{action_id}`. */
export interface StatusResponseBody {
  action_id: string;
  status: ActionStatus;
  message?: string | null;
  created_at?: string;
  /** Extension: the signed receipt of the latest decision (see `verifyReceipt`). */
  receipt?: string;
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
  /** The reservation of `POST /v1/model-calls/check` this call settles. */
  reservation_id?: string;
}

/** Body of `POST /v1/model-calls/check`. */
export interface ModelCallCheckBody {
  model: string;
  estimated_input_tokens: number;
  max_output_tokens: number;
  session_id?: string;
}

/** A budget's standing as `POST /v1/model-calls/check` reports it. */
export interface BudgetStandingBody {
  id: string;
  name: string | null;
  scope: string;
  window: string;
  limit_usd: number | null;
  limit_tokens: number | null;
  spent_usd: number;
  spent_tokens: number;
  reserved_usd: number;
  reserved_tokens: number;
}

/** Answer of `POST /v1/model-calls/check`. */
export interface ModelCallCheckResponseBody {
  decision: 'allow' | 'refuse';
  reason: string;
  reservation_id: string | null;
  expires_at: string | null;
  estimated_cost_usd: number;
  estimated_tokens: number;
  message?: string;
  budget?: BudgetStandingBody;
  budgets: BudgetStandingBody[];
}

/** Body of `POST /v1/actions/{action_id}/result`. */
export interface ResultReportBody {
  status: 'succeeded' | 'failed';
  duration_ms: number;
  error?: string;
  result?: unknown;
}

/** Body of `POST /v1/mcp/tools`: an MCP gateway's report of its upstream's `tools/list`. */
export interface McpToolsReportBody {
  server: string;
  transport?: 'stdio' | 'http';
  tools: {
    name: string;
    title?: string;
    description?: string;
    input_schema?: unknown;
    annotations?: Record<string, unknown>;
  }[];
}

/** Answer of `POST /v1/mcp/tools`. */
export interface McpToolsReportAnswer {
  server: string;
  /** Whether an admin trusts the upstream's annotations. */
  trusted: boolean;
  /** The tools a policy blocks for every call (the gateway hides them from `tools/list`). */
  hidden: { name: string; policy: string }[];
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
