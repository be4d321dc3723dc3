import * as z from 'zod';
import { agentParameter, cursor, environment, limit, page, time } from '../admin/schemas';

// Receipts and their keys on the admin API.

/** A stored receipt. */
export const receipt = z
  .object({
    id: z.string(),
    action_id: z.string(),
    agent_id: z.string(),
    environment: z.enum(['test', 'live']),
    decision: z.string(),
    receipt: z.string().meta({
      description:
        'The receipt: `r2~claims~inclusion path~root JWS` (EdDSA; see docs/security.md), or a compact JWS for receipts issued before batching.',
    }),
    created_at: z.string(),
    chain_position: z.number().nullable().meta({
      description: 'Its place in the audit chain of its agent and environment (null until sealed).',
    }),
  })
  .meta({ id: 'Receipt' });

/** Query of the receipt export. */
export const receiptQuery = z.object({
  agent: agentParameter,
  environment: environment.optional(),
  from: time,
  to: time,
  cursor,
  limit,
});

export const receiptPage = page(receipt, 'ReceiptPage');

export const receiptList = z.object({ items: z.array(receipt) });

/** A public receipt key (JWK). */
export const publicKey = z
  .object({
    kty: z.literal('OKP'),
    crv: z.literal('Ed25519'),
    kid: z.string(),
    x: z.string(),
    alg: z.literal('EdDSA').optional(),
    use: z.literal('sig').optional(),
    created_at: z.string().optional(),
    retired_at: z.string().nullable().optional(),
  })
  .meta({ id: 'ReceiptKey' });
