import type { EFFECTS } from './effects';
import type { MemoryValues } from './memory-input';

/** What a policy decides for a tool call: one of {@link EFFECTS}. */
export type Effect = (typeof EFFECTS)[number];

/** What happens to a call held for approval when nobody answers within `timeout`. */
export type OnTimeout = 'deny' | 'allow';

/**
 * What decides a call when a condition of the policy cannot be evaluated (a missing field, a
 * wrong type, a non-bool result, the evaluation budget) or the arguments do not have their
 * declared types. Never `allow`: an error cannot let a call through.
 */
export type OnError = 'block' | 'requires_approval';

/** Where a held call may be decided: Arden's approvers (`dashboard`), or the app's end user (`app`). */
export type ApprovalChannel = 'dashboard' | 'app';

/**
 * Who decides a held call, when it is more than one approver from anyone: set on a
 * `requires_approval` decision only when the policy or rule says `approvals`, `from`,
 * `exclude_requester`, `exclude_owner` or `approve_in`.
 */
export interface ApprovalTerms {
  /** Distinct users who must approve (1 or more); the first denial denies. */
  approvals: number;
  /** Only members of one of these groups count; absent: any approver. */
  from?: string[];
  /** The user who started the session (metadata `requested_by`) may not approve. */
  excludeRequester?: boolean;
  /** The agent's owner (a user set on the agent in Arden) may not approve. */
  excludeOwner?: boolean;
  /** Where the decision may be made; `['dashboard']` when absent. */
  approveIn: ApprovalChannel[];
}

/** The environment a call runs in, from the kind of API key (`arden_test_…`, `arden_live_…`). */
export type PolicyEnvironment = 'test' | 'live';

/**
 * One rule of a policy: when the CEL condition `if` holds, `then` decides. A rule without `if`
 * always holds. `timeout` and `on_timeout` only apply to `then: requires_approval`.
 */
export interface RuleDefinition {
  /** CEL condition over `args`, `tool`, `session`, `agent`, `environment` and `now`. */
  if?: string;
  then: Effect;
  /** Seconds to wait for an approver; overrides the policy's `timeout`. */
  timeout?: number;
  /** What happens when the approval times out; overrides the policy's `on_timeout` (`deny`). */
  on_timeout?: OnTimeout;
  /** Distinct users who must approve; overrides the policy's (default 1). */
  approvals?: number;
  /** Only members of these groups may approve; overrides the policy's. */
  from?: string[];
  /** The user who started the session may not approve; overrides the policy's. */
  exclude_requester?: boolean;
  /** The agent's owner may not approve; overrides the policy's. */
  exclude_owner?: boolean;
  /** Where the call may be decided (`dashboard`, `app`); overrides the policy's. */
  approve_in?: ApprovalChannel[];
  /** Who is asked to approve (server channels): `slack:#channel`, `email:address`, `webhook:name`. */
  notify?: string[];
  /** Seconds without a decision before the same targets are reminded. */
  remind_after?: number;
  /** Seconds without a decision before `escalate_to` is notified. */
  escalate_after?: number;
  /** The next tier, notified after `escalate_after`. */
  escalate_to?: string[];
  /** What decides the call when this rule's condition cannot be evaluated; the policy's when absent. */
  on_error?: OnError;
  description?: string;
}

/**
 * A policy for one tool name or pattern: `stripe.issue_refund` (exact), `communication.*`
 * (prefix), `mcp.*.delete_file` (`*` within a segment) or `*` (everything). The first rule whose condition holds decides; when none holds,
 * `default` does. `action` is the shorthand for a policy without rules (`action: block`).
 *
 * A policy needs `action`, or `rules`, or `default`. When it has rules but no `default` (and no
 * `action`), the default is `block`: a call that no rule allows is refused (fail closed).
 */
export interface PolicyDefinition {
  id?: string;
  name: string;
  /**
   * Exact tool name, or a pattern: `*` matches any characters but `.` (`mcp.*.delete_file`),
   * and a final `*` anything (`communication.*`, `*`). The most specific pattern wins.
   */
  tool: string;
  description?: string;
  rules?: RuleDefinition[];
  /** The effect when no rule holds; `block` when absent. */
  default?: Effect;
  /** Shorthand for a policy without rules: this effect applies to every call. */
  action?: Effect;
  /** Seconds to wait for an approver, for every `requires_approval` effect of this policy. */
  timeout?: number;
  /** What happens when an approval times out (`deny` when absent). */
  on_timeout?: OnTimeout;
  /** Distinct users who must approve a held call (default 1); the first denial denies. */
  approvals?: number;
  /** Only members of one of these user groups may approve. */
  from?: string[];
  /** The user who started the session (the check's metadata `requested_by`) may not approve. */
  exclude_requester?: boolean;
  /** The agent's owner (the user set as its owner in Arden) may not approve. */
  exclude_owner?: boolean;
  /**
   * Where a held call may be decided: `dashboard` (Arden's approvers, the default) and `app` (the
   * app reports its end user's decision, as in the AI SDK's tool approval or LangGraph's resume).
   */
  approve_in?: ApprovalChannel[];
  /** Who is asked to approve (server channels): `slack:#channel`, `email:address`, `webhook:name`. */
  notify?: string[];
  /** Seconds without a decision before the same targets are reminded. */
  remind_after?: number;
  /** Seconds without a decision before `escalate_to` is notified. */
  escalate_after?: number;
  /** The next tier, notified after `escalate_after`. */
  escalate_to?: string[];
  /**
   * What decides the call when a condition cannot be evaluated or the arguments do not have
   * their declared types: `block` (the default) or `requires_approval`.
   */
  on_error?: OnError;
  /**
   * The types of the arguments the policy expects, by name: `string`, `bool`, `number` (int or
   * double), `int`, `double`, `null`, `any`, `list`, `list<T>`, `map`, `map<T>`; a trailing `?`
   * makes one optional (absent or null). A call whose arguments do not match is decided by
   * `on_error` before any rule runs. Undeclared arguments are not checked.
   */
  args?: Record<string, string>;
  /**
   * Refuse at once a repeat of a refused call (blocked, or denied by a person): same tool,
   * same arguments (canonical JSON), same session. On unless `false`.
   */
  refuse_repeats?: boolean;
  /**
   * Sensitive argument paths (`card.number`, `password`): the server stores their values
   * encrypted, shows them masked, and leaves them out of webhooks and channel messages; a
   * receipt still binds the call's full argument bytes.
   */
  redact?: string[];
  /** How long, in seconds, a refusal is remembered for `refuse_repeats`; the whole session when absent. */
  repeat_window?: number;
  /**
   * The call's money cost in dollars, as a CEL expression over the same variables as a condition
   * (`args.amount`, `args.cents / 100.0`). Evaluated when the policy allows or holds the call;
   * the server counts it into `session.cost_usd`, `agent.cost_usd(window)` and the budgets. An
   * expression that cannot be evaluated, or that is negative or not a finite number, makes
   * `on_error` decide.
   */
  cost?: string;
  /**
   * A budget of this policy's tools, in dollars of their `cost` (needs `cost`): per `session`,
   * or per `agent` over the last `window` seconds (a day when absent). A call whose cost would
   * take the tools past `usd` is decided by `on_exceed` (`block` when absent).
   */
  budget?: PolicyBudget;
  version?: number;
  /** A disabled policy (`enabled: false`) is validated but never matches. */
  enabled?: boolean;
}

/** A policy's budget of its tools' costs (`budget` on a policy). */
export interface PolicyBudget {
  per: 'session' | 'agent';
  usd: number;
  /** Seconds, for `per: agent` (86 400 when absent). */
  window?: number;
  on_exceed?: 'block' | 'requires_approval';
}

/** The call being decided, and the variables its conditions see. */
export interface EvaluationInput {
  /** The tool's name, such as `stripe.issue_refund`. */
  tool: string;
  /** The call's keyword arguments, as JSON values. */
  args: Record<string, unknown>;
  session?: string | null;
  agent?: { id: string; name: string };
  environment?: PolicyEnvironment;
  /** The time of the call; the current time when absent. */
  now?: Date;
  /**
   * For an MCP tool: its server, its own name and the annotations its server lists (hints, not
   * guarantees). Conditions read it as `mcp`; for a tool named `mcp.<server>.<tool>` without
   * it, `mcp` still has the server and tool, with no annotations.
   */
  mcp?: McpCallInfo | null;
  /**
   * The values of the memory inputs the deciding policy reads (`memoryNeeds(set, tool).queries`),
   * by `memoryKey(query)`. A condition that reads one not given here cannot be evaluated: the
   * policy's `on_error` decides.
   */
  memory?: MemoryValues;
  /**
   * The length of the check's JSON text (its request body), when the call came as one: the
   * larger it is, the fewer work units its evaluation may use (`evaluationUnits`), so that
   * reading, deciding, logging and answering a check at the body limit fit in the time one
   * check may take. Absent: the full `POLICY_LIMITS.maxEvaluationCost`.
   */
  textLength?: number;
}

/** An MCP tool call's identity and annotations, as the gateway or an adapter knows them. */
export interface McpCallInfo {
  server?: string;
  tool?: string;
  annotations?: {
    title?: string;
    readOnlyHint?: boolean;
    destructiveHint?: boolean;
    idempotentHint?: boolean;
    openWorldHint?: boolean;
  };
}

/**
 * The reasons `evaluate` gives for a decision. `condition_error`: a condition could not be
 * evaluated, so the policy's `on_error` decided; `invalid_arguments`: the arguments do not have
 * the policy's declared types, so `on_error` decided.
 */
export type DecisionReason =
  | 'rule_matched'
  | 'policy_default'
  | 'no_policy_configured'
  | 'condition_error'
  | 'invalid_arguments';

/**
 * Why a decision was made by `on_error`: the rule whose condition could not be evaluated (-1 for
 * the declared argument types), the error, and the shape of the arguments (types, not values).
 */
export interface RuleEvaluationError {
  ruleIndex: number;
  message: string;
  /** The arguments' types, such as `{amount: string, to: list<int>[100000]}`; never values. */
  shape?: string;
}

/** The policy that decided, as recorded in the action log. */
export interface DecisionPolicy {
  id?: string;
  name: string;
  tool: string;
  version?: number;
}

/**
 * The outcome of `evaluate`: the effect, and everything needed to explain it later. Decision
 * objects are frozen and may be shared between calls; copy one before changing it.
 */
export interface PolicyDecision {
  effect: Effect;
  /**
   * Why: `rule_matched`, `policy_default`, `no_policy_configured` when no policy matched the
   * tool, `condition_error` or `invalid_arguments` when `on_error` decided (see `DecisionReason`). A string, so that callers can record reasons of their own.
   */
  reason: string;
  policy?: DecisionPolicy;
  /** Index of the deciding rule, or -1 when the policy's default decided. */
  ruleIndex?: number;
  /** Seconds to wait for an approver (only for `requires_approval`, when configured). */
  timeout?: number;
  /** What happens when the approval times out (only for `requires_approval`). */
  onTimeout?: OnTimeout;
  /** Who must approve, when more than the default of one approver in the dashboard. */
  approval?: ApprovalTerms;
  /**
   * The error that made `on_error` decide (reasons `condition_error`, `invalid_arguments`);
   * empty otherwise.
   */
  errors: RuleEvaluationError[];
  /** One human sentence saying which policy and rule decided, and why. */
  explanation: string;
  /** The call's cost in dollars from the policy's `cost`, when it has one and allows or holds the call. */
  costUsd?: number;
}
