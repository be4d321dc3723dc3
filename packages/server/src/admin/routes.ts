import { actionRoutes } from '../actions/routes';
import { agentRoutes } from '../agents/routes';
import { approvalRoutes } from '../approvals/routes';
import { auditRoutes } from '../audit/routes';
import { budgetRoutes } from '../budgets/routes';
import { channelRoutes } from '../channels/routes';
import { eventRoutes } from '../events/routes';
import { mcpRoutes } from '../mcp/routes';
import { openApiDocument } from '../openapi';
import { policyRoutes } from '../policies/routes';
import { simulationRoutes } from '../policies/simulation-routes';
import { receiptRoutes } from '../receipts/routes';
import { sensitiveRoutes } from '../sensitive/routes';
import { sessionRoutes } from '../sessions/routes';
import { usageRoutes } from '../usage/routes';
import { userRoutes } from '../users/routes';
import { agentDeliveryRoutes, deliveryRoutes } from '../webhooks/routes';
import { type AdminRoute, route } from './table';

/**
 * Every admin API route: the single declarative table that the router, the role checks, the
 * authorization tests and the OpenAPI document are built from. Each resource declares its
 * routes in its own folder (`src/<resource>/routes.ts`); this is their order in the table and
 * in `/api/openapi.json`.
 */
export const adminRoutes: readonly AdminRoute[] = [
  ...userRoutes,
  ...agentRoutes,
  ...agentDeliveryRoutes,
  ...policyRoutes,
  ...mcpRoutes,
  ...simulationRoutes,
  ...actionRoutes,
  ...approvalRoutes,
  ...sessionRoutes,
  ...usageRoutes,
  ...budgetRoutes,
  ...deliveryRoutes,
  ...channelRoutes,
  ...eventRoutes,
  ...receiptRoutes,
  ...sensitiveRoutes,
  ...auditRoutes,
  route({
    method: 'GET',
    path: '/api/openapi.json',
    access: 'public',
    tag: 'meta',
    summary: 'This API as an OpenAPI 3.1 document',
    async handler() {
      return openApiDocument(adminRoutes);
    },
  }),
];
