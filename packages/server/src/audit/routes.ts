import * as z from 'zod';
import { agentIdFilter, v1 } from '../admin/route-helpers';
import { agentParameter, environment } from '../admin/schemas';
import { type AdminRoute, route } from '../admin/table';
import { anchorType } from './chain';

// The audit chain on the admin API: checkpoints (to export and keep elsewhere) and verification.

const checkpoint = z
  .object({
    agent_id: z.string(),
    environment: z.enum(['test', 'live']),
    kind: z.enum(['checkpoint', 'anchor']).meta({
      description:
        '`checkpoint`: the chain at `position` had `hash`. `anchor`: retention removed the entries through `position`, and the chain now starts from `hash` (see docs/security.md).',
    }),
    position: z.number(),
    hash: z.string(),
    checkpoint: z.string().meta({ description: 'The signed checkpoint (compact JWS, EdDSA).' }),
    created_at: z.string(),
  })
  .meta({ id: 'AuditCheckpoint' });

const problem = z.object({
  agentId: z.string(),
  environment: z.string(),
  position: z.number().nullable(),
  actionId: z.string().nullable(),
  kind: z.string(),
  message: z.string(),
});

const report = z
  .object({
    ok: z.boolean(),
    chains: z.number(),
    entries: z.number(),
    checkpoints: z.number(),
    problems: z.array(problem),
  })
  .meta({ id: 'AuditReport' });

/** Whether a stored statement is a checkpoint or a retention anchor (its JWS `typ`). */
function statementKind(jws: string): 'checkpoint' | 'anchor' {
  try {
    const header = JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8'));
    return header?.typ === anchorType ? 'anchor' : 'checkpoint';
  } catch {
    return 'checkpoint';
  }
}

/** Checkpoints and verification of the audit chain. */
export const auditRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/audit/checkpoints`,
    access: 'viewer',
    tag: 'audit',
    summary:
      'Signed checkpoints and retention anchors of the audit chains, oldest first (export them and keep them elsewhere)',
    query: z.object({ agent: agentParameter, environment: environment.optional() }),
    response: z.object({ items: z.array(checkpoint) }),
    async handler(call) {
      const items = await call.services.server.audit.checkpoints({
        agentId: await agentIdFilter(call, call.query.agent),
        environment: call.query.environment,
      });
      return {
        items: items.map((item) => ({
          agent_id: item.agentId,
          environment: item.environment,
          kind: statementKind(item.checkpoint),
          position: item.position,
          hash: item.hash,
          checkpoint: item.checkpoint,
          created_at: new Date(item.createdAt).toISOString(),
        })),
      };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/audit/checkpoints`,
    access: 'admin',
    tag: 'audit',
    summary: 'Chain what is pending and sign a checkpoint of every chain now',
    response: z.object({ sealed: z.number() }),
    async handler(call) {
      return { sealed: await call.services.server.audit.seal({ checkpoint: true }) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/audit/verify`,
    access: 'admin',
    tag: 'audit',
    summary: 'Walk every audit chain and check it (and exported checkpoints, if given)',
    body: z.object({ checkpoints: z.array(z.string().max(10_000)).max(100_000).optional() }),
    bodyOptional: true,
    response: report,
    async handler(call) {
      return call.services.server.audit.verify({ checkpoints: call.body.checkpoints });
    },
  }),
];
