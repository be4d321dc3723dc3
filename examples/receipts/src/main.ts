// The agent's refund tool calls a payments API that demands an Arden receipt. No LLM key and no
// running Arden needed: an Arden server is started in this process (@arden/server/testing).
//
//   pnpm start
import { createHash } from 'node:crypto';
import { createArden } from '@arden/core';
import { startTestServer } from '@arden/server/testing';
import { startPaymentsApi } from './payments-api.ts';

const arden = await startTestServer({
  policies: [
    {
      name: 'Refunds',
      tool: 'payments.refund',
      rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
      default: 'allow',
    },
  ],
});
const payments = await startPaymentsApi(arden.url);
const client = createArden({ apiKey: arden.key, apiUrl: arden.url });

/** The refund tool: ask Arden, then call the payments API with the receipt and the same bytes. */
async function refund(input: { amount: number; order: string }, approve?: () => Promise<void>) {
  const body = JSON.stringify(input);
  const checked = await client.check('payments.refund', { args: [], kwargs: input });
  let receipt = checked.receipt;
  if (checked.decision === 'requires_approval') {
    await approve?.();
    const decided = await client.waitForDecision(checked.actionId, 'payments.refund');
    receipt = decided.receipt;
  }
  return post(body, receipt);
}

async function post(body: string, receipt: string | undefined) {
  const response = await fetch(`${payments.url}/refunds`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(receipt ? { 'x-arden-receipt': receipt } : {}),
    },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A receipt whose claims were rewritten to bind `body` (its signature left as it was). */
function forge(receipt: string | undefined, body: string): string {
  const parts = (receipt ?? '').split('~');
  const claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
  claims.kwargs_sha256 = createHash('sha256').update(body).digest('hex');
  parts[1] = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return parts.join('~');
}

try {
  const small = await refund({ amount: 40, order: 'o-1' });
  console.log('refund 40, allowed by policy      →', small.status, JSON.stringify(small.body));

  const checked = await client.check('payments.refund', {
    args: [],
    kwargs: { amount: 40, order: 'o-2' },
  });
  const replay = await post(JSON.stringify({ amount: 40, order: 'o-2' }), checked.receipt);
  const again = await post(JSON.stringify({ amount: 40, order: 'o-2' }), checked.receipt);
  console.log('the same receipt twice            →', replay.status, again.status, again.body.error);

  const edited = await post(JSON.stringify({ amount: 4000, order: 'o-2' }), checked.receipt);
  console.log('a receipt for 40, sent with 4 000 →', edited.status, edited.body.code);

  // A forged receipt: someone rewrites the claims of a receipt for 40 to bind 4 000 instead (the
  // claims are the second `~`-separated part, base64url JSON). The signature no longer matches.
  const fresh = await client.check('payments.refund', {
    args: [],
    kwargs: { amount: 40, order: 'o-5' },
  });
  const forgedBody = JSON.stringify({ amount: 4000, order: 'o-5' });
  const forged = await post(forgedBody, forge(fresh.receipt, forgedBody));
  console.log('a forged receipt for 4 000        →', forged.status, forged.body.code);

  const none = await post(JSON.stringify({ amount: 5, order: 'o-3' }), undefined);
  console.log('no receipt                        →', none.status, none.body.error);

  const large = await refund({ amount: 150, order: 'o-4' }, async () => {
    const held = await arden.nextPending();
    await arden.approve(held.id, 'checked with the customer');
  });
  console.log('refund 150, approved by a human   →', large.status, JSON.stringify(large.body));
  if (payments.refunds.length !== 3) throw new Error('expected exactly three refunds');
} finally {
  await client.shutdown();
  await payments.close();
  await arden.close();
}
