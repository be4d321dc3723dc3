// The set-up the adapter's test files share: an in-memory Arden with the decisions below,
// installed and configured before each test and torn down after it, and three tools that record
// when they run.
import { configure, flush, uninstallAdapters } from '@arden/core';
import { createTestArden, type TestArden } from '@arden/core/test';
import { tool } from '@openai/agents';
import { afterEach, beforeEach } from 'vitest';
import { z } from 'zod';
import { install, uninstall } from './index';

/** The in-memory Arden of the current test (a live binding: a new one before each test). */
export let arden: TestArden;
/** The names of the tools that ran in the current test, in order. */
export const ran: string[] = [];

/** The three tools of the tests: lookup_customer, delete_account, issue_refund. */
export function makeTools() {
  const lookupCustomer = tool({
    name: 'lookup_customer',
    description: 'Find a customer by email.',
    parameters: z.object({ email: z.string() }),
    execute: async ({ email }) => {
      ran.push('lookup_customer');
      return `customer cus_1 (${email})`;
    },
  });
  const deleteAccount = tool({
    name: 'delete_account',
    description: 'Delete an account.',
    parameters: z.object({ customerId: z.string() }),
    execute: async () => {
      ran.push('delete_account');
      return 'deleted';
    },
  });
  const issueRefund = tool({
    name: 'issue_refund',
    description: 'Refund a customer.',
    parameters: z.object({ amount: z.number(), customerId: z.string() }),
    execute: async ({ amount }) => {
      ran.push('issue_refund');
      return `refunded $${amount}`;
    },
  });
  return { lookupCustomer, deleteAccount, issueRefund };
}

/** What the in-memory Arden decides per tool. */
export const decisions = {
  delete_account: 'block',
  issue_refund: 'requires_approval',
} as const;

/** Registers the set-up and tear-down of every test in the calling file. */
export function useTestArden(): void {
  beforeEach(() => {
    ran.length = 0;
    arden = createTestArden({ decisions });
    install({});
    configure(arden.options());
  });

  afterEach(async () => {
    await flush();
    uninstallAdapters();
    uninstall();
  });
}

/** The run's final output as text. */
export function finalText(result: { finalOutput?: unknown }): string {
  return String(result.finalOutput);
}
