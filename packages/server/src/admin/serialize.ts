import type * as z from 'zod';
import type * as actionSchemas from '../actions/schema';
import type * as agentSchemas from '../agents/schema';
import { approvalView } from '../approvals/view';
import type * as eventSchemas from '../events/schema';
import type { LiveEvent } from '../events/service';
import type { McpHttpUpstreamRecord } from '../mcp/http-upstreams';
import type { McpUpstreamRecord } from '../mcp/repository';
import type * as mcpSchemas from '../mcp/schema';
import type * as policySchemas from '../policies/schema';
import type * as sessionSchemas from '../sessions/schema';
import type {
  ActionRecord,
  AdminTokenRecord,
  AgentRecord,
  ApiKeyRecord,
  DeliveryAttemptRecord,
  DeliveryRecord,
  PolicyVersionRecord,
  SessionSummary,
  UsageAggregate,
  UsageRecord,
  UserRecord,
} from '../store';
import { RawJson } from '../store/json';
import type * as usageSchemas from '../usage/schema';
import type * as userSchemas from '../users/schema';
import type * as webhookSchemas from '../webhooks/schema';

type Wire<T extends z.ZodType> = z.output<T>;

/** Stored JSON text, sent as written (typed as what a reader parses it into). */
function verbatim<T>(text: string): T {
  return new RawJson(text) as unknown as T;
}

/** An ISO time, or null. */
export function iso(time: number): string;
export function iso(time: number | null | undefined): string | null;
export function iso(time: number | null | undefined): string | null {
  return time === null || time === undefined ? null : new Date(time).toISOString();
}

/** A signing key's first characters, to tell keys apart without showing one. */
export function signingKeyPrefix(signingKey: string): string {
  return `${signingKey.slice(0, 10)}…`;
}

export function agentView(agent: AgentRecord): Wire<typeof agentSchemas.agent> {
  return {
    id: agent.id,
    name: agent.name,
    description: agent.description,
    default_action: agent.defaultAction,
    webhook_url: agent.webhookUrl,
    signing_key_prefix: signingKeyPrefix(agent.signingKey),
    webhook_status: !agent.webhookUrl
      ? 'none'
      : agent.webhookDisabledAt != null
        ? 'disabled'
        : agent.webhookFailingSince != null
          ? 'failing'
          : 'active',
    webhook_failing_since: iso(agent.webhookFailingSince),
    webhook_disabled_at: iso(agent.webhookDisabledAt),
    webhook_disabled_reason: agent.webhookDisabledReason ?? null,
    owner_user_id: agent.ownerUserId ?? null,
    webhook_sensitive_in_full: agent.webhookSensitiveInFull === true,
    created_at: iso(agent.createdAt),
    updated_at: iso(agent.updatedAt),
  };
}

export function apiKeyView(key: ApiKeyRecord): Wire<typeof agentSchemas.apiKey> {
  return {
    id: key.id,
    agent_id: key.agentId,
    environment: key.environment,
    name: key.name,
    prefix: `${key.prefix}…`,
    created_at: iso(key.createdAt),
    revoked_at: iso(key.revokedAt),
    last_used_at: iso(key.lastUsedAt),
  };
}

export function userView(user: UserRecord): Wire<typeof userSchemas.user> {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    disabled: user.disabledAt !== null,
    created_at: iso(user.createdAt),
    updated_at: iso(user.updatedAt),
    last_login_at: iso(user.lastLoginAt),
  };
}

export function tokenView(
  token: AdminTokenRecord,
  email: string | null,
): Wire<typeof userSchemas.adminToken> {
  return {
    id: token.id,
    user_id: token.userId,
    user_email: email,
    name: token.name,
    prefix: `${token.prefix}…`,
    created_at: iso(token.createdAt),
    expires_at: iso(token.expiresAt),
    revoked_at: iso(token.revokedAt),
    last_used_at: iso(token.lastUsedAt),
  };
}

export function policyVersionView(
  version: PolicyVersionRecord,
  email: string | null,
): Wire<typeof policySchemas.policyVersion> {
  return {
    agent_id: version.agentId,
    environment: version.environment,
    version: version.version,
    policies: version.policies,
    diff: version.diff,
    message: version.message,
    created_by: version.createdBy,
    created_by_email: email,
    created_at: iso(version.createdAt),
  };
}

export function actionView(action: ActionRecord): Wire<typeof actionSchemas.action> {
  const explained = action.policy;
  return {
    id: action.id,
    agent_id: action.agentId,
    environment: action.environment,
    tool_name: action.toolName,
    args: verbatim(action.argsJson),
    kwargs: verbatim(action.kwargsJson),
    metadata: action.metadataJson === null ? null : verbatim(action.metadataJson),
    args_json: action.argsJson,
    kwargs_json: action.kwargsJson,
    metadata_json: action.metadataJson,
    session_id: action.sessionId,
    decision: action.decision,
    reason: action.reason,
    status: action.status,
    policy: explained?.policy
      ? {
          id: explained.policy.id ?? null,
          name: explained.policy.name,
          tool: explained.policy.tool,
          version: explained.policy.version ?? null,
          rule_index: explained.ruleIndex ?? null,
        }
      : null,
    explanation: explained?.explanation ?? null,
    evaluation_errors: (explained?.errors ?? []).map((error) => ({
      rule_index: error.ruleIndex,
      message: error.message,
      shape: error.shape ?? null,
    })),
    expires_at: iso(action.expiresAt),
    on_timeout: action.onTimeout,
    decided_by: action.decidedBy,
    decided_at: iso(action.decidedAt),
    notes: action.notes,
    outcome:
      action.resultStatus === null
        ? null
        : {
            status: action.resultStatus,
            duration_ms: action.durationMs,
            error: action.resultError,
            reported_at: iso(action.reportedAt),
          },
    repeat_of: action.repeatOf ?? null,
    created_at: iso(action.createdAt),
    approval: approvalView(action),
  };
}

export function deliveryView(delivery: DeliveryRecord): Wire<typeof webhookSchemas.delivery> {
  return {
    id: delivery.id,
    event_id: delivery.eventId,
    agent_id: delivery.agentId,
    action_id: delivery.actionId,
    event_type: delivery.eventType,
    url: delivery.url,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: iso(delivery.nextAttemptAt),
    last_status: delivery.lastStatus,
    last_error: delivery.lastError,
    created_at: iso(delivery.createdAt),
    delivered_at: iso(delivery.deliveredAt),
  };
}

export function attemptView(
  attempt: DeliveryAttemptRecord,
): Wire<typeof webhookSchemas.deliveryAttempt> {
  return {
    id: attempt.id,
    attempt: attempt.attempt,
    status_code: attempt.statusCode,
    error: attempt.error,
    duration_ms: attempt.durationMs,
    at: iso(attempt.at),
  };
}

export function deliveryDetailView(
  delivery: DeliveryRecord,
  attempts: DeliveryAttemptRecord[],
): Wire<typeof webhookSchemas.deliveryDetail> {
  let payload: unknown = delivery.payload;
  try {
    JSON.parse(delivery.payload);
    // The body as it was signed and sent: its arguments byte for byte.
    payload = verbatim(delivery.payload);
  } catch {
    // Shown as the stored text.
  }
  return { ...deliveryView(delivery), payload, attempt_log: attempts.map(attemptView) };
}

export function sessionView(summary: SessionSummary): Wire<typeof sessionSchemas.session> {
  return {
    session_id: summary.sessionId,
    agent_id: summary.agentId,
    environment: summary.environment,
    actions: summary.actions,
    pending: summary.pending,
    blocked: summary.blocked,
    first_at: iso(summary.firstAt),
    last_at: iso(summary.lastAt),
    total_tokens: summary.totalTokens,
    cost_usd: summary.costUsd,
  };
}

export function usageView(usage: UsageRecord): Wire<typeof usageSchemas.usageEvent> {
  return {
    id: usage.id,
    agent_id: usage.agentId,
    environment: usage.environment,
    session_id: usage.sessionId,
    model: usage.model,
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    cost_usd: usage.costUsd,
    priced: usage.rateFound,
    created_at: iso(usage.createdAt),
  };
}

export function aggregateView(aggregate: Omit<UsageAggregate, 'key' | 'label'>) {
  return {
    events: aggregate.events,
    prompt_tokens: aggregate.promptTokens,
    completion_tokens: aggregate.completionTokens,
    total_tokens: aggregate.totalTokens,
    cost_usd: aggregate.costUsd,
    unpriced_events: aggregate.unpricedEvents,
  };
}

/** An MCP upstream a gateway reported or an admin named (without its tools). */
export function mcpUpstreamView(upstream: McpUpstreamRecord): Wire<typeof mcpSchemas.upstream> {
  return {
    id: upstream.id,
    agent_id: upstream.agentId,
    environment: upstream.environment,
    name: upstream.name,
    trusted: upstream.trusted,
    trusted_by: upstream.trustedBy,
    transport: upstream.transport,
    tool_count: upstream.toolCount,
    tools_reported_at: iso(upstream.toolsReportedAt),
    created_at: iso(upstream.createdAt),
    updated_at: iso(upstream.updatedAt),
  };
}

/** A remote MCP server of the HTTP gateway: its origin and header names, never a secret. */
export function mcpHttpUpstreamView(
  upstream: McpHttpUpstreamRecord,
): Wire<typeof mcpSchemas.httpUpstream> {
  return {
    id: upstream.id,
    name: upstream.name,
    endpoint: `/mcp/${upstream.name}`,
    origin: upstream.origin,
    header_names: upstream.headerNames,
    show_blocked_tools: upstream.showBlockedTools,
    created_by: upstream.createdBy,
    created_at: iso(upstream.createdAt),
    updated_at: iso(upstream.updatedAt),
  };
}

/** A live event as the event stream sends it. */
export function liveEventView(event: LiveEvent, at: number): Wire<typeof eventSchemas.liveEvent> {
  switch (event.type) {
    case 'action.created':
    case 'action.decided':
    case 'action.voted':
      return {
        type: event.type,
        at: iso(at),
        action: actionView(event.action),
        action_id: event.action.id,
        agent_id: event.action.agentId,
      };
    case 'action.reported':
      return {
        type: event.type,
        at: iso(at),
        action_id: event.actionId,
        agent_id: event.agentId,
        status: event.status,
      };
    case 'usage.recorded':
      return {
        type: event.type,
        at: iso(at),
        agent_id: event.usage[0]?.agentId,
        usage: event.usage.map(usageView),
      };
    case 'webhook.attempted':
      return {
        type: event.type,
        at: iso(at),
        agent_id: event.delivery.agentId,
        action_id: event.delivery.actionId ?? undefined,
        delivery: deliveryView(event.delivery),
        attempt: attemptView(event.attempt),
      };
    case 'mcp.tools_reported':
    case 'mcp.trust_changed':
    case 'mcp.upstream_deleted':
      return {
        type: event.type,
        at: iso(at),
        agent_id: event.upstream.agentId,
        mcp_upstream: mcpUpstreamView(event.upstream),
      };
    case 'mcp.http_upstream_added':
    case 'mcp.http_upstream_changed':
    case 'mcp.http_upstream_removed':
      return {
        type: event.type,
        at: iso(at),
        mcp_http_upstream: mcpHttpUpstreamView(event.httpUpstream),
      };
  }
}
