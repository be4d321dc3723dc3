/**
 * `@arden/server`: the Arden server — the agent API (wire-compatible with ardenpy 0.5.x), the
 * store (embedded SQLite), approvals with long-poll and expiry, the durable webhook outbox,
 * token usage with cost, and the services the admin API and CLI build on.
 *
 * ```ts
 * const server = await createServer({ dataDir: './.arden' });
 * await server.listen(8787);
 * ```
 */

export { type AdminOptions, type MountedAdmin, mountAdmin } from './admin/mount';
export { adminRoutes } from './admin/routes';
export { registerAgentRoutes, statusBody } from './agent/routes';
export { maxUsageBatch, parseCheck, parseResult, parseUsage } from './agent/validate';
export {
  type AgentPrincipal,
  AgentService,
  type AgentServiceOptions,
  type CreateAgentInput,
  type CreatedApiKey,
  validateWebhookUrl,
} from './agents/service';
export { ApprovalHub, type DecisionNotice } from './approvals/hub';
export {
  ApprovalService,
  type DecisionInput,
  decisionChannel,
  statusOf,
  wakeFromNotification,
} from './approvals/service';
export {
  defaultCheckBodyLimit,
  defaultCheckValueLimit,
  parseByteSize,
  parseServerFlags,
  type ResolvedConfig,
  resolveConfig,
  type ServerConfig,
  type ServerPlugin,
} from './config';
export type { ServerContext } from './context';
export {
  type Environment,
  generateApiKey,
  generateSecret,
  generateSigningKey,
  hashPassword,
  hashSecret,
  keyPrefix,
  parseApiKey,
  passwordHashCost,
  passwordNeedsRehash,
  type ScryptCost,
  verifyPassword,
} from './crypto';
export {
  ArdenServerError,
  AuthenticationError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  SchemaVersionError,
  StoreUnavailableError,
  ValidationError,
} from './errors';
export { type LiveEvent, type LiveEventListener, LiveEvents } from './events/service';
export { readBody, readJson, sendError, sendJson, setBodyTimeout } from './http/respond';
export { type Handler, type RequestContext, type RouteMatch, Router } from './http/router';
export { randomHex, uuidv7 } from './ids';
export { createLogger, isLogLevel, type Logger, type LogLevel } from './logger';
export { type OpenApiDocument, openApiDocument } from './openapi';
export { type PolicyCall, type PolicyChange, PolicyService } from './policies/service';
export {
  type Cost,
  defaultPricing,
  loadPricing,
  type ModelPrice,
  Pricing,
  type PricingTable,
} from './pricing';
export {
  cacheChannel,
  connectReplicas,
  liveChannel,
  type ReplicaOptions,
} from './replicas/replicas';
export {
  type RetentionOptions,
  type RetentionResult,
  RetentionService,
} from './retention/service';
export { type ArdenServer, createServer } from './server';
export * from './store';
export { type UsageInput, UsageService } from './usage/service';
export { UserAdministration } from './users/service';
export {
  createWebhookSender,
  type WebhookRequest,
  type WebhookResponse,
  WebhookSendError,
  type WebhookSender,
} from './webhooks/sender';
export {
  type ApprovalInfo,
  defaultRetrySchedule,
  parseRetryAfter,
  signWebhook,
  type WebhookOptions,
  WebhookService,
  webhookBody,
} from './webhooks/service';
export {
  checkWebhookUrl,
  ForbiddenWebhookAddressError,
  forbiddenAddressReason,
  parseAllowedHosts,
  type WebhookAddressPolicy,
} from './webhooks/ssrf';
