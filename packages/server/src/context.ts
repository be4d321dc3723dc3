import type { AgentService } from './agents/service';
import type { ApprovalHub } from './approvals/hub';
import type { ApprovalService } from './approvals/service';
import type { AuditService } from './audit/service';
import type { BudgetService } from './budgets/service';
import type { ChannelService } from './channels/service';
import type { ChannelWorker } from './channels/worker';
import type { LiveEvents } from './events/service';
import type { Router } from './http/router';
import type { Logger, LogLevel } from './logger';
import type { McpService } from './mcp/service';
import type { MemoryService } from './memory/service';
import type { SessionCacheLimits } from './memory/session-cache';
import type { PolicyService } from './policies/service';
import type { ReceiptOptions, ReceiptService } from './receipts/service';
import type { ReplicaOptions } from './replicas/replicas';
import type { RetentionOptions } from './retention/service';
import type { SensitiveArguments } from './sensitive/service';
import type { Store } from './store';
import type { Telemetry } from './telemetry/service';
import type { UsageService } from './usage/service';
import type { WebhookOptions, WebhookService } from './webhooks/service';

/** Everything a route or a plug-in (the admin API, the dashboard) works with. */
export interface ServerContext {
  config: ResolvedConfig;
  logger: Logger;
  store: Store;
  router: Router;
  hub: ApprovalHub;
  events: LiveEvents;
  agents: AgentService;
  policies: PolicyService;
  approvals: ApprovalService;
  webhooks: WebhookService;
  usage: UsageService;
  mcp: McpService;
  /** Policies with memory: the memory inputs' values, refused repeats, their locks. */
  memory: MemoryService;
  /** OpenTelemetry spans (when the OTLP variables are set) and the Prometheus metrics. */
  telemetry: Telemetry;
  budgets: BudgetService;
  receipts: ReceiptService;
  audit: AuditService;
  /** Notification channels (Slack, email, approver webhooks) and their outbox worker. */
  channels: ChannelService;
  /** Sensitive arguments (policy `redact`): sealed, masked, revealed to admins on purpose. */
  sensitive: SensitiveArguments;
  channelWorker: ChannelWorker;
  clock: () => number;
}

/** The configuration after the environment and defaults were applied. */
export interface ResolvedConfig {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  bodyLimit: number;
  /** Largest `POST /policy/check` body in bytes (see `ServerConfig.checkBodyLimit`). */
  checkBodyLimit: number;
  /** Most JSON values in one `POST /policy/check` body (see `ServerConfig.checkValueLimit`). */
  checkValueLimit: number;
  /** The HTTP MCP gateway's upstream timeout in ms, 0 for none (see `ServerConfig.mcpUpstreamTimeoutSeconds`). */
  mcpUpstreamTimeoutMs: number;
  /** The longest message an HTTP MCP upstream may send, in bytes (see `ServerConfig.mcpMaxMessageBytes`). */
  mcpMaxMessageBytes: number;
  /** The embedded store's session cache bounds (see `ServerConfig.sessionCache`). */
  sessionCache: SessionCacheLimits;
  pricingFile: string | undefined;
  logLevel: LogLevel;
  approvalTimeoutSeconds: number;
  maxApprovalTimeoutSeconds: number;
  rateLimit: number;
  sweepIntervalMs: number;
  webhooks: WebhookOptions;
  replicas: ReplicaOptions;
  retention: RetentionOptions & { days: number };
  shutdownTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  unauthenticatedBodyTimeoutMs: number;
  workers: boolean;
  receipts: Required<Pick<ReceiptOptions, 'mode' | 'sealIntervalMs' | 'checkpointIntervalMs'>> & {
    secret: string | undefined;
  };
}
