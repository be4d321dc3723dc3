// A tiny payments API — the service behind the agent's `payments.refund` tool — that refuses to
// act without a valid Arden receipt for exactly the request it receives. It needs nothing from
// Arden at request time: the receipt is checked offline with the server's public keys, fetched
// once from /.well-known/arden-keys.json (refetched when a receipt names a key it has not seen,
// after a rotation).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ReceiptPublicKey, ReceiptVerificationError, verifyReceipt } from '@arden/core';

/** Starts the payments API on a free port of 127.0.0.1; resolves with its URL and a `close()`. */
export async function startPaymentsApi(ardenUrl: string): Promise<{
  url: string;
  refunds: { amount: number; order: string }[];
  close: () => Promise<void>;
}> {
  let keys: ReceiptPublicKey[] = [];
  const fetchKeys = async () => {
    const response = await fetch(`${ardenUrl}/.well-known/arden-keys.json`);
    keys = ((await response.json()) as { keys: ReceiptPublicKey[] }).keys;
  };
  await fetchKeys();
  // Single use: a receipt id (jti) is accepted once. A real service keeps these in its database
  // for as long as it accepts receipts (maxAgeSeconds below).
  const used = new Set<string>();
  const refunds: { amount: number; order: string }[] = [];

  const server: Server = createServer(async (request, response) => {
    const answer = (status: number, body: unknown) =>
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (request.method !== 'POST' || request.url !== '/refunds') return answer(404, {});
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    // The receipt binds the exact bytes of the arguments: hash the body as received, not a
    // re-serialization of it.
    const body = Buffer.concat(chunks).toString('utf8');
    const receipt = request.headers['x-arden-receipt'];
    if (typeof receipt !== 'string') {
      return answer(401, { error: 'An Arden receipt (X-Arden-Receipt) is required.' });
    }
    const call = { toolName: 'payments.refund', kwargsJson: body };
    const options = { requireRuns: true, maxAgeSeconds: 300 };
    try {
      let claims: Awaited<ReturnType<typeof verifyReceipt>>;
      try {
        claims = await verifyReceipt(receipt, call, keys, options);
      } catch (error) {
        if (!ReceiptVerificationError.isInstance(error) || error.code !== 'unknown_key')
          throw error;
        await fetchKeys();
        claims = await verifyReceipt(receipt, call, keys, options);
      }
      if (used.has(claims.jti)) {
        return answer(409, { error: `Receipt ${claims.jti} was already used.` });
      }
      used.add(claims.jti);
      const refund = JSON.parse(body) as { amount: number; order: string };
      refunds.push(refund);
      return answer(200, { refunded: refund.amount, order: refund.order, receipt: claims.jti });
    } catch (error) {
      if (!ReceiptVerificationError.isInstance(error)) throw error;
      return answer(403, { error: error.message, code: error.code });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refunds,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
