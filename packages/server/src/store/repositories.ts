import { actionRepository } from '../actions/repository';
import { agentRepository, apiKeyRepository } from '../agents/repository';
import { approvalRepository } from '../approvals/repository';
import { auditRepository } from '../audit/repository';
import { channelRepository } from '../channels/repository';
import { mcpUpstreamRepository } from '../mcp/repository';
import { policyRepository } from '../policies/repository';
import { receiptRepository } from '../receipts/repository';
import { sensitiveRepository } from '../sensitive/repository';
import { usageRepository } from '../usage/repository';
import { adminTokenRepository, userRepository, userSessionRepository } from '../users/repository';
import { webhookRepository } from '../webhooks/repository';
import type { Queryable } from './database';

// The Store facade's repositories: each resource's lives in its folder
// (src/<resource>/repository.ts); this binds them all to one database or transaction.

export * from '../actions/repository';
export * from '../agents/repository';
export * from '../audit/repository';
export * from '../channels/repository';
export * from '../mcp/repository';
export * from '../policies/repository';
export * from '../receipts/repository';
export * from '../usage/repository';
export * from '../users/repository';
export * from '../webhooks/repository';

/** Every repository, bound to one database or transaction. */
export function repositories(db: Queryable) {
  return {
    agents: agentRepository(db),
    apiKeys: apiKeyRepository(db),
    policies: policyRepository(db),
    mcpUpstreams: mcpUpstreamRepository(db),
    actions: actionRepository(db),
    usage: usageRepository(db),
    webhooks: webhookRepository(db),
    users: userRepository(db),
    userSessions: userSessionRepository(db),
    adminTokens: adminTokenRepository(db),
    receipts: receiptRepository(db),
    audit: auditRepository(db),
    approvals: approvalRepository(db),
    channels: channelRepository(db),
    sensitive: sensitiveRepository(db),
  };
}

/** The repositories of `repositories()`. */
export type Repositories = ReturnType<typeof repositories>;
