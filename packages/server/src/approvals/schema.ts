import * as z from 'zod';
import { action } from '../actions/schema';
import { agentParameter, cursor, environment, limit, page } from '../admin/schemas';

// Held calls waiting for a decision, and the decision. Parsed and documented
// (`/api/openapi.json`) with the shared pieces of `admin/schemas.ts`.

/** Query of `GET /api/v1/approvals`. */
export const approvalQuery = z.object({
  agent: agentParameter,
  environment: environment.optional(),
  cursor,
  limit,
});

/** A held action waiting for a decision. */
export const approval = action
  .extend({ waiting_ms: z.number().meta({ description: 'How long it has waited.' }) })
  .meta({ id: 'Approval' });

/** Body of approve and deny. */
export const decisionBody = z.object({
  notes: z.string().max(4000).nullable().optional(),
});

export const approvalPage = page(approval, 'ApprovalPage');
