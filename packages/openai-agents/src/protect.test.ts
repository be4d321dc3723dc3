// Explicit wrappers (protectFunctionTool, guardAgentTools) beside automatic interception.
import { uninstallAdapters } from '@arden/core';
import { Agent, run } from '@openai/agents';
import { describe, expect, it } from 'vitest';
import { arden, finalText, makeTools, ran, useTestArden } from './adapter-test-setup';
import { guardAgentTools, protectFunctionTool, protectFunctionTools, uninstall } from './index';
import { scriptedToolModel } from './test-helpers';

useTestArden();

describe('explicit wrappers', () => {
  it('checks a protected tool once when it is also auto-patched', async () => {
    const { lookupCustomer, deleteAccount } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        calls: [
          { tool: 'lookup_customer', args: { email: 'a@b.c' } },
          { tool: 'delete_account', args: { customerId: 'c' } },
        ],
      }),
      tools: protectFunctionTools([lookupCustomer, deleteAccount]),
    });
    await run(agent, 'go');
    expect(arden.checks.map((check) => check.toolName)).toEqual([
      'lookup_customer',
      'delete_account',
    ]);
    expect(ran).toEqual(['lookup_customer']);
  });

  it('checks a tool once when it was auto-patched first and then protected', async () => {
    const { lookupCustomer } = makeTools();
    const first = new Agent({
      name: 'first',
      model: scriptedToolModel({ calls: [{ tool: 'lookup_customer', args: { email: 'a' } }] }),
      tools: [lookupCustomer],
    });
    await run(first, 'go');
    const second = guardAgentTools(
      new Agent({
        name: 'second',
        model: scriptedToolModel({ calls: [{ tool: 'lookup_customer', args: { email: 'b' } }] }),
        tools: [lookupCustomer],
      }),
      { toolNamePrefix: 'crm.' },
    );
    await run(second, 'go');
    expect(arden.checks.map((check) => check.toolName)).toEqual([
      'lookup_customer',
      'crm.lookup_customer',
    ]);
  });

  it('works without configure()-installed patching, with per-tool names', async () => {
    uninstallAdapters();
    uninstall();
    arden.setDecisions({ 'payments.refund': 'block' });
    const { issueRefund, lookupCustomer } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        calls: [
          { tool: 'issue_refund', args: { amount: 1, customerId: 'c' } },
          { tool: 'lookup_customer', args: { email: 'a' } },
        ],
      }),
      tools: [protectFunctionTool(issueRefund, { ardenName: 'payments.refund' }), lookupCustomer],
    });
    const result = await run(agent, 'go');
    expect(arden.checks.map((check) => check.toolName)).toEqual(['payments.refund']);
    expect(ran).toEqual(['lookup_customer']);
    expect(finalText(result)).toContain('Arden blocked this call to "payments.refund"');
  });

  it('leaves the original tool unchanged', async () => {
    const { deleteAccount } = makeTools();
    const protectedTool = protectFunctionTool(deleteAccount);
    expect(protectedTool).not.toBe(deleteAccount);
    expect(protectedTool.name).toBe('delete_account');
    expect(protectedTool.parameters).toBe(deleteAccount.parameters);
  });
});
