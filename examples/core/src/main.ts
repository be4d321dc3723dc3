// A tiny "agent" whose tools are guarded by Arden. No LLM key is needed.
//
// Against a running server:   ARDEN_API_KEY=arden_test_… ARDEN_API_URL=http://localhost:8787 pnpm start
// Without one, it uses the in-memory Arden from @arden/core/test and approves the held call itself.
import {
  configure,
  flush,
  guardTool,
  logTokenUsage,
  PolicyDeniedError,
  withSession,
} from '@arden/core';
import { createTestArden } from '@arden/core/test';

const inMemory = process.env.ARDEN_API_KEY
  ? undefined
  : createTestArden({
      decisions: { 'db.drop_table': 'block', 'stripe.issue_refund': 'requires_approval' },
    });
configure(inMemory ? inMemory.options() : {});

const lookupCustomer = guardTool('crm.lookup_customer', async ({ email }: { email: string }) => ({
  id: 'cus_123',
  email,
}));
const issueRefund = guardTool(
  'stripe.issue_refund',
  async ({ amount }: { amount: number; customerId: string }) => `refunded $${amount}`,
);
const dropTable = guardTool(
  'db.drop_table',
  async ({ table }: { table: string }) => `dropped ${table}`,
);

await withSession(`demo-${Date.now()}`, async () => {
  const customer = await lookupCustomer({ email: 'ada@example.com' });
  console.log('allowed  crm.lookup_customer →', customer);
  logTokenUsage({ model: 'gpt-4o-mini', promptTokens: 420, completionTokens: 80 });

  try {
    await dropTable({ table: 'users' });
  } catch (error) {
    if (!PolicyDeniedError.isInstance(error)) throw error;
    console.log('blocked  db.drop_table →', error.message);
  }

  console.log('held     stripe.issue_refund → waiting for approval…');
  const refund = issueRefund({ amount: 150, customerId: customer.id });
  if (inMemory) {
    const held = await inMemory.nextPending();
    inMemory.approve(held.actionId, 'approved by the example');
  }
  console.log('approved stripe.issue_refund →', await refund);
});
await flush();
