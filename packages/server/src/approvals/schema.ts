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

/** Body of deny. */
export const decisionBody = z.object({
  notes: z.string().max(4000).nullable().optional(),
});

/** One RFC 6902 JSON patch operation. */
const patchOperation = z
  .object({
    op: z.enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
    path: z.string().max(1000),
    from: z.string().max(1000).optional(),
    value: z.unknown().optional(),
  })
  .meta({ id: 'JsonPatchOperation' });

/** Body of approve: notes, and optionally the edited arguments (approve with edit). */
export const approveBody = z.object({
  notes: z.string().max(4000).nullable().optional(),
  patch: z.array(patchOperation).min(1).max(100).optional().meta({
    description:
      'Approve with edit: an RFC 6902 JSON patch of the keyword arguments ([{"op": "replace", "path": "/amount", "value": 40}]). The edited call is evaluated again: blocked → 409 (still pending); held → it needs a further approval from someone else; allowed → approved.',
  }),
  kwargs: z.record(z.string(), z.unknown()).optional().meta({
    description: 'Approve with edit: the edited keyword arguments whole (instead of patch).',
  }),
});

/** Body of `PUT /api/v1/users/{user_id}/groups`. */
export const groupsBody = z.object({
  groups: z
    .array(z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/))
    .max(50)
    .meta({ description: 'Group names (letters, digits, ".", "_", "-"), for `from: [group]`.' }),
});

/** A user's groups. */
export const userGroups = z
  .object({ user_id: z.string(), email: z.string(), groups: z.array(z.string()) })
  .meta({ id: 'UserGroups' });

export const userGroupsList = z
  .object({ items: z.array(userGroups) })
  .meta({ id: 'UserGroupsList' });

export const approvalPage = page(approval, 'ApprovalPage');
