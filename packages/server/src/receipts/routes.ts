import { agentIdFilter, nextCursor, parseTime, v1 } from '../admin/route-helpers';
import { type AdminRoute, route } from '../admin/table';
import type { ServerContext } from '../context';
import { sendJson } from '../http/respond';
import { decodeCursor, encodeCursor } from '../store/json';
import type { ReceiptRecord } from './repository';
import * as schemas from './schema';

// Receipts: the public key set (agent side, no authentication) and the admin API's listing,
// export and key rotation.

/** Registers `GET /.well-known/arden-keys.json`: the public keys that verify receipts. */
export function registerReceiptRoutes(server: ServerContext): void {
  server.router.add('GET', '/.well-known/arden-keys.json', (context) => {
    context.response.setHeader('cache-control', 'public, max-age=300');
    sendJson(context.response, 200, server.receipts.keysDocument());
  });
}

function receiptView(record: ReceiptRecord) {
  return {
    id: record.id,
    action_id: record.actionId,
    agent_id: record.agentId,
    environment: record.environment,
    decision: record.decision,
    receipt: record.receipt,
    created_at: new Date(record.createdAt).toISOString(),
    chain_position: record.chainPosition,
  };
}

/** Receipts of an action, the export, and key rotation. */
export const receiptRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/actions/:action_id/receipts`,
    access: 'viewer',
    tag: 'receipts',
    summary: "An action's signed receipts, oldest first (its check, then its decision)",
    params: { action_id: 'Action id.' },
    response: schemas.receiptList,
    async handler(call) {
      const records = await call.services.server.store.receipts.forAction(
        call.params.action_id as string,
      );
      return { items: records.map(receiptView) };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/receipts`,
    access: 'viewer',
    tag: 'receipts',
    summary: 'Export receipts in the order they were written (filter by agent, environment, time)',
    query: schemas.receiptQuery,
    response: schemas.receiptPage,
    async handler(call) {
      const limit = call.query.limit ?? 100;
      const records = await call.services.server.store.receipts.page(
        {
          agentId: await agentIdFilter(call, call.query.agent),
          environment: call.query.environment,
          from: parseTime(call.query.from, 'from'),
          to: parseTime(call.query.to, 'to'),
        },
        decodeCursor(call.query.cursor) ?? 0,
        limit + 1,
      );
      const items = records.slice(0, limit);
      const last = items.at(-1);
      return {
        items: items.map(receiptView),
        next_cursor: nextCursor(
          records.length > limit && last ? encodeCursor(last.seq) : undefined,
        ),
      };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/receipts/keys/rotate`,
    access: 'admin',
    tag: 'receipts',
    summary: 'Make a new receipt signing key; the old one is retired and still verifies',
    response: schemas.publicKey,
    async handler(call) {
      return call.services.server.receipts.rotate();
    },
  }),
];
