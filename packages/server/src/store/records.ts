import type { ApprovalTerms, Effect } from '@arden/policy';
import type { ApprovalState } from '../approvals/state';
import type { Environment } from '../crypto';

/** A policy effect (and an agent's default action). */
export type { Effect };

/**
 * An action's lifecycle: `completed` (allowed or blocked at once), `pending` (held for
 * approval), `approved`, `denied`, or `expired` (nobody decided in time; `onTimeout` says what
 * happened then).
 */
export type ActionStatus =
  | 'pending'
  | 'approved'
  | 'denied'
  | 'completed'
  | 'expired'
  | 'cancelled';

/** What happens to a held action when nobody decides before it expires. */
export type TimeoutEffect = 'deny' | 'allow';

/** An agent: the owner of API keys, policies, a webhook URL and its signing key. */
export interface AgentRecord {
  id: string;
  name: string;
  description: string | null;
  defaultAction: Effect;
  webhookUrl: string | null;
  /** The HMAC key for webhooks. Shown to admins; never logged. */
  signingKey: string;
  createdAt: number;
  updatedAt: number;
  deletedAt: number | null;
  /** Since when every delivery to the webhook URL has failed (null: the last one succeeded). */
  webhookFailingSince?: number | null;
  /** When the webhook endpoint was disabled (410 Gone, or failing for days); null: enabled. */
  webhookDisabledAt?: number | null;
  /** Why it was disabled. */
  webhookDisabledReason?: string | null;
  /** The user who owns the agent (a policy's `exclude_owner` keeps them from approving). */
  ownerUserId?: string | null;
  /**
   * Whether the agent's webhooks carry sensitive argument values (a policy's `redact`) in full;
   * off (masked) by default. Each delivery that carries them is logged like a reveal.
   */
  webhookSensitiveInFull?: boolean;
}

/** An agent API key (its hash only; the key itself is shown once when created). */
export interface ApiKeyRecord {
  id: string;
  agentId: string;
  environment: Environment;
  name: string | null;
  /** The key's first characters, for display. */
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** One stored policy of an agent's set for one environment. */
export interface PolicyRecord {
  id: string;
  agentId: string;
  environment: Environment;
  name: string;
  tool: string;
  /** The policy as written (`@arden/policy`'s `PolicyDefinition`). */
  definition: Record<string, unknown>;
  /** Order within the set. */
  position: number;
  /** The set version that last changed this policy. */
  version: number;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What changed between two versions of a policy set, by policy name. */
export interface PolicyDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

/** One version of an agent's policy set: the full set, who saved it and what changed. */
export interface PolicyVersionRecord {
  agentId: string;
  environment: Environment;
  version: number;
  policies: Record<string, unknown>[];
  diff: PolicyDiff;
  message: string | null;
  createdBy: string | null;
  createdAt: number;
}

/** Why the policy engine decided as it did, as logged with the action. */
export interface DecisionExplanation {
  policy?: { id?: string; name: string; tool: string; version?: number };
  ruleIndex?: number;
  errors?: { ruleIndex: number; message: string; shape?: string }[];
  explanation?: string;
  /** Who must approve a held call, when the policy said more than one approver in the dashboard. */
  approval?: ApprovalTerms;
}

/** One checked tool call, whatever the decision. */
export interface ActionRecord {
  /** Insertion order; the cursor of listings. */
  seq: number;
  id: string;
  agentId: string;
  environment: Environment;
  toolName: string;
  /**
   * The parsed arguments, for use in this process only: exact (bigint) values on a fresh check,
   * `JSON.parse`'s copy (big integers rounded) on rows read back. Never send them anywhere:
   * what is stored, shown and sent back is `argsJson`, `kwargsJson` and `metadataJson`.
   */
  args: unknown[];
  kwargs: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  /** The positional arguments' JSON text, byte for byte as the agent sent it. */
  argsJson: string;
  /** The keyword arguments' JSON text, byte for byte as the agent sent it. */
  kwargsJson: string;
  /** The metadata's JSON text as sent, or null. */
  metadataJson: string | null;
  sessionId: string | null;
  decision: Effect;
  reason: string | null;
  policy: DecisionExplanation | null;
  status: ActionStatus;
  expiresAt: number | null;
  onTimeout: TimeoutEffect | null;
  decidedBy: string | null;
  decidedAt: number | null;
  notes: string | null;
  resultStatus: 'succeeded' | 'failed' | null;
  durationMs: number | null;
  resultError: string | null;
  result: unknown;
  reportedAt: number | null;
  createdAt: number;
  /**
   * A call refused at once as a repeat of a refused call (same tool, arguments and session):
   * the id of that earlier refusal.
   */
  repeatOf?: string | null;
  /** The hash of the tool and canonical arguments, kept for calls with a session (memory/). */
  argsHash?: string | null;
  /** Votes, edits and in-app decisions on a held action (`approvals/state.ts`); null: none. */
  approval?: ApprovalState | null;
}

/** One LLM call's token usage and its cost at write time. */
export interface UsageRecord {
  seq: number;
  id: string;
  agentId: string;
  environment: Environment;
  sessionId: string | null;
  model: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** False when the model was not in the pricing table (cost 0). */
  rateFound: boolean;
  /** When the model call happened, as the client says (`occurred_at`; else when received). */
  createdAt: number;
  /**
   * When the server received it (its clock; `agent.cost_usd(window)` and the simulation's spend
   * replay place usage by it). Read from the store: `created_at` for usage stored before
   * migration 21. When writing, `createdAt` if not given (`UsageService` always gives it).
   */
  receivedAt?: number;
}

/** Status of a webhook delivery. */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** A webhook delivery in the outbox. */
export interface DeliveryRecord {
  id: string;
  /** Sent as `X-Arden-Event-Id`; the same on every attempt and redelivery. */
  eventId: string;
  agentId: string;
  actionId: string | null;
  eventType: string;
  url: string;
  /**
   * The exact body that is signed and sent — with sensitive argument values masked; an agent
   * whose settings say so (`webhookSensitiveInFull`) gets them in full, put back at send time.
   */
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

/** One attempt to deliver a webhook. */
export interface DeliveryAttemptRecord {
  id: string;
  outboxId: string;
  attempt: number;
  /** The receiver's HTTP status, or null when no answer came. */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  at: number;
}

/** Roles of dashboard and CLI users. */
export type UserRole = 'admin' | 'approver' | 'viewer';

/** A dashboard/CLI user. `passwordHash` is scrypt (`hashPassword`); never log it. */
export interface UserRecord {
  id: string;
  email: string;
  name: string | null;
  passwordHash: string | null;
  role: UserRole;
  createdAt: number;
  updatedAt: number;
  lastLoginAt: number | null;
  disabledAt: number | null;
}

/** A browser session (the cookie holds the id; the store only its hash). */
export interface UserSessionRecord {
  idHash: string;
  userId: string;
  csrfToken: string | null;
  userAgent: string | null;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

/** An admin API token for the CLI and automation (stored hashed). */
export interface AdminTokenRecord {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** A page of a cursor-paginated listing. */
export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; undefined on the last page. */
  nextCursor: string | undefined;
}
