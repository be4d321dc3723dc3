import { agentOf, nextCursor, v1 } from '../admin/route-helpers';
import { deliveryDetailView, deliveryView } from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import { NotFoundError } from '../errors';
import * as schemas from './schema';

// The admin API of webhook deliveries: an agent's deliveries, one delivery, redelivery.

/** An agent's webhook deliveries (listed under the agent, so beside its routes). */
export const agentDeliveryRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/agents/:agent_id/deliveries`,
    access: 'viewer',
    tag: 'webhooks',
    summary: "List an agent's webhook deliveries, newest first",
    params: { agent_id: 'Agent id or name.' },
    query: schemas.deliveryQuery,
    response: schemas.deliveryPage,
    async handler(call) {
      const agent = await agentOf(call);
      const page = await call.services.server.store.webhooks.list(
        { agentId: agent.id, status: call.query.status, actionId: call.query.action_id },
        { cursor: call.query.cursor, limit: call.query.limit },
      );
      return { items: page.items.map(deliveryView), next_cursor: nextCursor(page.nextCursor) };
    },
  }),
];

/** One webhook delivery, and redelivering it. */
export const deliveryRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/deliveries/:delivery_id`,
    access: 'viewer',
    tag: 'webhooks',
    summary: 'A webhook delivery with its body and every attempt',
    params: { delivery_id: 'Delivery id.' },
    response: schemas.deliveryDetail,
    async handler(call) {
      const id = call.params.delivery_id as string;
      const store = call.services.server.store;
      const delivery = await store.webhooks.get(id);
      if (!delivery) throw new NotFoundError(`No webhook delivery ${id.slice(0, 100)}.`);
      return deliveryDetailView(delivery, await store.webhooks.attempts(id));
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/deliveries/:delivery_id/redeliver`,
    access: 'admin',
    tag: 'webhooks',
    summary: 'Send a webhook delivery again (same event id, so receivers can de-duplicate)',
    params: { delivery_id: 'Delivery id.' },
    response: schemas.deliveryDetail,
    async handler(call) {
      const id = call.params.delivery_id as string;
      const delivery = await call.services.server.webhooks.redeliver(id);
      return deliveryDetailView(delivery, await call.services.server.store.webhooks.attempts(id));
    },
  }),
];
