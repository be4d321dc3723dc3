// The admin API's JSON shapes (snake_case), as `packages/server/src/admin/schemas.ts` defines
// them. The dashboard talks to the server only over HTTP, so these are written out here rather
// than imported.

export type Effect = 'allow' | 'block' | 'requires_approval';
export type Environment = 'test' | 'live';
export type Role = 'admin' | 'approver' | 'viewer';
export type ActionStatus = 'pending' | 'approved' | 'denied' | 'completed' | 'expired';

export const effects: readonly Effect[] = ['allow', 'block', 'requires_approval'];
export const environments: readonly Environment[] = ['test', 'live'];
export const roles: readonly Role[] = ['viewer', 'approver', 'admin'];
export const actionStatuses: readonly ActionStatus[] = [
  'pending',
  'approved',
  'denied',
  'completed',
  'expired',
];

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface PolicyIssue {
  policy?: string;
  path: (string | number)[];
  message: string;
  line?: number;
  column?: number;
}

export interface ErrorBody {
  error: string;
  field?: string;
  issues?: PolicyIssue[];
}

export interface User {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  disabled: boolean;
  created_at: string;
  updated_at: string;
  last_login_at: string | null;
}

export interface Me {
  user: User;
  authenticated_by: 'session' | 'token';
  permissions: { decide: boolean; administer: boolean };
}

export interface UserCreated {
  user: User;
  password?: string;
}

export interface AdminToken {
  id: string;
  user_id: string;
  user_email: string | null;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface ApiKey {
  id: string;
  agent_id: string;
  environment: Environment;
  name: string | null;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface ApiKeyCreated {
  key: string;
  api_key: ApiKey;
  revoked_key_id?: string;
}

export interface Agent {
  id: string;
  name: string;
  description: string | null;
  default_action: Effect;
  webhook_url: string | null;
  signing_key_prefix: string;
  /** `disabled`: nothing is sent (410 Gone, or failing for 5 days) until the URL is saved again. */
  webhook_status?: 'none' | 'active' | 'failing' | 'disabled';
  webhook_failing_since?: string | null;
  webhook_disabled_at?: string | null;
  webhook_disabled_reason?: string | null;
  created_at: string;
  updated_at: string;
}

export interface AgentDetail extends Agent {
  keys: ApiKey[];
}

export interface AgentCreated {
  agent: Agent;
  signing_key: string;
  keys: ApiKeyCreated[];
}

export interface SigningKeyRotated {
  agent: Agent;
  signing_key: string;
}

/** A policy as written (see docs/policies.md); checked by the server. */
export type PolicyDefinition = Record<string, unknown>;

export interface PolicySet {
  agent_id: string;
  environment: Environment;
  version: number;
  policies: PolicyDefinition[];
  updated_at: string | null;
  updated_by: string | null;
}

export interface PolicyVersion {
  agent_id: string;
  environment: Environment;
  version: number;
  policies: PolicyDefinition[];
  diff: { added: string[]; removed: string[]; changed: string[] };
  message: string | null;
  created_by: string | null;
  created_by_email: string | null;
  created_at: string;
}

export interface Validation {
  valid: boolean;
  issues: PolicyIssue[];
}

export interface DecisionView {
  decision: Effect;
  reason: string | null;
  policy: string | null;
  rule_index: number | null;
  explanation: string | null;
}

export interface Simulation {
  agent_id: string;
  environment: Environment;
  evaluated: number;
  changed: number;
  items: {
    action_id: string;
    tool_name: string;
    session_id: string | null;
    created_at: string;
    old: DecisionView;
    new: DecisionView;
    changed: boolean;
  }[];
}

export interface Action {
  id: string;
  agent_id: string;
  environment: Environment;
  tool_name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  /** The positional arguments' JSON text exactly as the agent sent it (what is shown). */
  args_json: string;
  /** The keyword arguments' JSON text exactly as the agent sent it (what is shown). */
  kwargs_json: string;
  /** The metadata's JSON text exactly as the agent sent it, or null. */
  metadata_json: string | null;
  session_id: string | null;
  decision: Effect;
  reason: string | null;
  status: ActionStatus;
  policy: {
    id: string | null;
    name: string;
    tool: string;
    version: number | null;
    rule_index: number | null;
  } | null;
  explanation: string | null;
  /** The error that made the policy's on_error decide, with the arguments' shape (types only). */
  evaluation_errors: { rule_index: number; message: string; shape?: string | null }[];
  expires_at: string | null;
  on_timeout: 'deny' | 'allow' | null;
  decided_by: string | null;
  decided_at: string | null;
  notes: string | null;
  outcome: {
    status: 'succeeded' | 'failed';
    duration_ms: number | null;
    error: string | null;
    reported_at: string | null;
  } | null;
  created_at: string;
}

export interface DeliveryAttempt {
  id: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  at: string;
}

export interface Delivery {
  id: string;
  event_id: string;
  agent_id: string;
  action_id: string | null;
  event_type: string;
  url: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface DeliveryDetail extends Delivery {
  payload: unknown;
  attempt_log: DeliveryAttempt[];
}

export interface ActionDetail extends Action {
  agent_name: string | null;
  decided_by_email: string | null;
  deliveries: DeliveryDetail[];
}

export interface Approval extends Action {
  waiting_ms: number;
}

export interface Session {
  session_id: string;
  agent_id: string;
  environment: Environment;
  actions: number;
  pending: number;
  blocked: number;
  first_at: string;
  last_at: string;
  total_tokens: number;
  cost_usd: number;
}

export interface UsageEvent {
  id: string;
  agent_id: string;
  environment: Environment;
  session_id: string | null;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost_usd: number;
  priced: boolean;
  created_at: string;
}

export interface TimelineEntry {
  kind: 'action' | 'usage';
  at: string;
  action?: Action;
  usage?: UsageEvent;
  running_cost_usd: number;
  running_tokens: number;
}

export interface SessionDetail {
  session_id: string;
  sessions: Session[];
  timeline: TimelineEntry[];
  total_cost_usd: number;
  total_tokens: number;
  truncated: boolean;
}

export interface UsageAggregate {
  events: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost_usd: number;
  unpriced_events: number;
}

export type UsageGroup = 'model' | 'day' | 'session' | 'agent';

export interface UsageReport {
  group_by: UsageGroup;
  from: string | null;
  to: string | null;
  totals: UsageAggregate;
  items: (UsageAggregate & { key: string | null; label?: string })[];
}

export type LiveEventType =
  | 'action.created'
  | 'action.decided'
  | 'action.reported'
  | 'usage.recorded'
  | 'webhook.attempted';

export const liveEventTypes: readonly LiveEventType[] = [
  'action.created',
  'action.decided',
  'action.reported',
  'usage.recorded',
  'webhook.attempted',
];

export interface LiveEvent {
  type: LiveEventType;
  at: string;
  action?: Action;
  action_id?: string;
  agent_id?: string;
  status?: string;
  usage?: UsageEvent[];
  delivery?: Delivery;
  attempt?: DeliveryAttempt;
}
