import * as z from 'zod';
import { cursor, limit, nullableTimestamp, page, timestamp } from '../admin/schemas';

// Webhook deliveries and their attempts. Parsed and documented
// (`/api/openapi.json`) with the shared pieces of `admin/schemas.ts`.

/** Query of delivery listings. */
export const deliveryQuery = z.object({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  action_id: z.string().max(100).optional(),
  cursor,
  limit,
});

/** One attempt to deliver a webhook. */
export const deliveryAttempt = z
  .object({
    id: z.string(),
    attempt: z.number().int(),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
    duration_ms: z.number(),
    at: timestamp,
  })
  .meta({ id: 'DeliveryAttempt' });

/** A webhook delivery. */
export const delivery = z
  .object({
    id: z.string(),
    event_id: z.string(),
    agent_id: z.string(),
    action_id: z.string().nullable(),
    event_type: z.string(),
    url: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    next_attempt_at: timestamp,
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: timestamp,
    delivered_at: nullableTimestamp,
  })
  .meta({ id: 'Delivery' });

/** A delivery with its body and attempts. */
export const deliveryDetail = delivery
  .extend({ payload: z.unknown(), attempt_log: z.array(deliveryAttempt) })
  .meta({ id: 'DeliveryDetail' });

export const deliveryPage = page(delivery, 'DeliveryPage');
