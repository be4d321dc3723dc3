import { configure, flush, registeredAdapters, uninstallAdapters, withSession } from '@arden/core';
import { createTestArden, type TestArden } from '@arden/core/test';
import { Agent, Runner, RunState, run, tool } from '@openai/agents';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  guardAgentTools,
  install,
  interruptionAction,
  protectFunctionTool,
  protectFunctionTools,
  resolveInterruptions,
  trackModelUsage,
  uninstall,
} from './index';
import { scriptedToolModel } from './test-helpers';

let arden: TestArden;
const ran: string[] = [];

function makeTools() {
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

const decisions = {
  delete_account: 'block',
  issue_refund: 'requires_approval',
} as const;

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

function finalText(result: { finalOutput?: unknown }): string {
  return String(result.finalOutput);
}

describe('automatic interception (configure)', () => {
  it('registers with core', () => {
    expect(registeredAdapters()).toContain('openai-agents');
  });

  it('runs an allowed tool, checked once, with its arguments as kwargs', async () => {
    const { lookupCustomer } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        calls: [{ tool: 'lookup_customer', args: { email: 'ada@example.com' } }],
      }),
      tools: [lookupCustomer],
    });
    const result = await run(agent, 'who is ada?');
    expect(ran).toEqual(['lookup_customer']);
    expect(finalText(result)).toBe('done: lookup_customer=customer cus_1 (ada@example.com)');
    expect(arden.checks).toHaveLength(1);
    expect(arden.checks[0]).toMatchObject({
      toolName: 'lookup_customer',
      kwargs: { email: 'ada@example.com' },
      decision: 'allow',
      metadata: { framework: 'openai-agents', tool: 'lookup_customer' },
    });
    expect(arden.checks[0]?.metadata.call_id).toMatch(/^call_/);
    await flush();
    expect(arden.results).toMatchObject([
      { actionId: arden.checks[0]?.actionId, status: 'succeeded' },
    ]);
  });

  it('covers tools made after configure() and agents made before it', async () => {
    const early = new Agent({
      name: 'early',
      model: scriptedToolModel({ calls: [{ tool: 'delete_account', args: { customerId: 'c' } }] }),
    });
    const { deleteAccount } = makeTools();
    early.tools = [deleteAccount];
    const result = await run(early, 'delete');
    expect(ran).toEqual([]);
    expect(finalText(result)).toContain('blocked');
  });

  it('tells the model a blocked call did not run, and the run goes on to a final answer', async () => {
    const { deleteAccount, lookupCustomer } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        calls: [
          { tool: 'delete_account', args: { customerId: 'cus_1' } },
          { tool: 'lookup_customer', args: { email: 'ada@example.com' } },
        ],
      }),
      tools: [deleteAccount, lookupCustomer],
    });
    const result = await run(agent, 'delete then look up');
    expect(ran).toEqual(['lookup_customer']);
    expect(finalText(result)).toContain(
      'delete_account=Arden blocked this call to "delete_account" by policy',
    );
    expect(finalText(result)).toContain('The tool did not run.');
    expect(finalText(result)).toContain('lookup_customer=customer cus_1');
    expect(arden.checks.map((check) => check.decision)).toEqual(['block', 'allow']);
  });

  it('holds a call for approval until an approver approves it, then runs it once', async () => {
    const { issueRefund } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        calls: [{ tool: 'issue_refund', args: { amount: 150, customerId: 'cus_1' } }],
      }),
      tools: [issueRefund],
    });
    const pending = run(agent, 'refund');
    const held = await arden.nextPending();
    expect(held).toMatchObject({ toolName: 'issue_refund', kwargs: { amount: 150 } });
    expect(ran).toEqual([]);
    arden.approve(held.actionId, 'ok');
    const result = await pending;
    expect(ran).toEqual(['issue_refund']);
    expect(finalText(result)).toBe('done: issue_refund=refunded $150');
    expect(arden.checks).toHaveLength(1);
  });

  it('does not run a call an approver denied, and tells the model why', async () => {
    const { issueRefund } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        calls: [{ tool: 'issue_refund', args: { amount: 5000, customerId: 'cus_1' } }],
      }),
      tools: [issueRefund],
    });
    const pending = run(agent, 'refund');
    const held = await arden.nextPending();
    arden.deny(held.actionId, 'too large');
    const result = await pending;
    expect(ran).toEqual([]);
    expect(finalText(result)).toBe(
      'done: issue_refund=An approver denied this call to "issue_refund": too large. The tool did not run.',
    );
  });

  it('throws instead when asked to', async () => {
    install({ throwOnDenial: true });
    const { deleteAccount } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({ calls: [{ tool: 'delete_account', args: { customerId: 'c' } }] }),
      tools: [deleteAccount],
    });
    await expect(run(agent, 'delete')).rejects.toThrow(/blocked by policy/);
    expect(ran).toEqual([]);
  });

  it('uses a custom denial message and a tool-name prefix', async () => {
    install({
      toolNamePrefix: 'support.',
      denialMessage: (denial) => `NO (${denial.reason}) ${denial.toolName}`,
    });
    arden.setDecisions({ 'support.delete_account': 'block' });
    const { deleteAccount } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({ calls: [{ tool: 'delete_account', args: { customerId: 'c' } }] }),
      tools: [deleteAccount],
    });
    const result = await run(agent, 'delete');
    expect(finalText(result)).toBe('done: delete_account=NO (blocked) support.delete_account');
  });

  it('takes ardenName and toolNames as written: the prefix applies only to the others', async () => {
    // Issue #12: the prefix was put before ardenName and toolNames too ("support.stripe.refund"),
    // so the policy written for "stripe.refund" never matched.
    install({ toolNamePrefix: 'support.', toolNames: { lookup_customer: 'crm.lookup' } });
    arden.setDecisions({ 'stripe.refund': 'block', 'crm.lookup': 'block' });
    const { deleteAccount, lookupCustomer } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        calls: [
          { tool: 'delete_account', args: { customerId: 'c' } },
          { tool: 'lookup_customer', args: { email: 'a@b.c' } },
        ],
      }),
      tools: [protectFunctionTool(deleteAccount, { ardenName: 'stripe.refund' }), lookupCustomer],
    });
    await run(agent, 'go');
    expect(arden.checks.map((check) => [check.toolName, check.decision])).toEqual([
      ['stripe.refund', 'block'],
      ['crm.lookup', 'block'],
    ]);
  });

  it('tells the model when Arden cannot be reached (fail closed), without crashing the run', async () => {
    configure({
      ...arden.options(),
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const { lookupCustomer } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({ calls: [{ tool: 'lookup_customer', args: { email: 'a@b.c' } }] }),
      tools: [lookupCustomer],
    });
    const result = await run(agent, 'look up');
    expect(ran).toEqual([]);
    expect(finalText(result)).toContain('could not be reached');
  });

  it('runs tools unchecked after uninstall', async () => {
    uninstallAdapters();
    uninstall();
    const { deleteAccount } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({ calls: [{ tool: 'delete_account', args: { customerId: 'c' } }] }),
      tools: [deleteAccount],
    });
    await run(agent, 'delete');
    expect(ran).toEqual(['delete_account']);
    expect(arden.checks).toHaveLength(0);
  });
});

describe('sessions', () => {
  it('carries the session onto every check and usage record, per concurrent run', async () => {
    const runOne = (session: string) =>
      withSession(session, async () => {
        const { lookupCustomer, deleteAccount } = makeTools();
        const agent = new Agent({
          name: 'support',
          model: scriptedToolModel({
            name: 'gpt-4o-mini',
            calls: [
              { tool: 'lookup_customer', args: { email: `${session}@example.com` } },
              { tool: 'delete_account', args: { customerId: session } },
            ],
          }),
          tools: [lookupCustomer, deleteAccount],
        });
        return run(agent, 'go');
      });
    await Promise.all([runOne('session-a'), runOne('session-b')]);
    await flush();
    expect(arden.checks).toHaveLength(4);
    for (const check of arden.checks) {
      const email = check.kwargs.email as string | undefined;
      const owner = email ? email.split('@')[0] : (check.kwargs.customerId as string);
      expect(check.sessionId).toBe(owner);
    }
    expect(arden.usage).toHaveLength(6);
    expect(new Set(arden.usage.map((event) => event.session_id))).toEqual(
      new Set(['session-a', 'session-b']),
    );
  });

  it('carries the session through a streamed run', async () => {
    const { lookupCustomer } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({ calls: [{ tool: 'lookup_customer', args: { email: 'a@b.c' } }] }),
      tools: [lookupCustomer],
    });
    await withSession('streamed-session', async () => {
      const stream = await run(agent, 'go', { stream: true });
      for await (const _event of stream) {
        // drain
      }
      await stream.completed;
    });
    await flush();
    expect(arden.checks.map((check) => check.sessionId)).toEqual(['streamed-session']);
    expect(arden.usage.map((event) => event.session_id)).toEqual([
      'streamed-session',
      'streamed-session',
    ]);
  });
});

describe('usage', () => {
  it('records every model call with the model name and token counts', async () => {
    const { lookupCustomer } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        name: 'gpt-4o-mini',
        usage: { input: 321, output: 45 },
        calls: [{ tool: 'lookup_customer', args: { email: 'a@b.c' } }],
      }),
      tools: [lookupCustomer],
    });
    const result = await run(agent, 'go');
    await flush();
    expect(result.rawResponses).toHaveLength(2);
    expect(arden.usage).toMatchObject([
      { model: 'gpt-4o-mini', prompt_tokens: 321, completion_tokens: 45 },
      { model: 'gpt-4o-mini', prompt_tokens: 321, completion_tokens: 45 },
    ]);
    expect(result.state.usage.inputTokens).toBe(642);
  });

  it('records streamed model calls when their response_done arrives', async () => {
    const { lookupCustomer } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        name: 'gpt-4.1',
        usage: { input: 10, output: 7 },
        calls: [{ tool: 'lookup_customer', args: { email: 'a@b.c' } }],
      }),
      tools: [lookupCustomer],
    });
    const stream = await run(agent, 'go', { stream: true });
    let text = '';
    for await (const event of stream.toTextStream()) text += event;
    await stream.completed;
    await flush();
    expect(text).toContain('done: lookup_customer=customer cus_1');
    expect(arden.usage).toMatchObject([
      { model: 'gpt-4.1', prompt_tokens: 10, completion_tokens: 7 },
      { model: 'gpt-4.1', prompt_tokens: 10, completion_tokens: 7 },
    ]);
  });

  it('names models a provider hands out by the name they were asked for', async () => {
    const model = scriptedToolModel({ calls: [], usage: { input: 3, output: 4 } });
    const runner = new Runner({ modelProvider: { getModel: async () => model } });
    const agent = new Agent({ name: 'plain', model: 'gpt-4.1-mini' });
    await runner.run(agent, 'hi');
    await flush();
    expect(arden.usage).toMatchObject([
      { model: 'gpt-4.1-mini', prompt_tokens: 3, completion_tokens: 4 },
    ]);
  });

  it('prefers the model the response names (providerData.model)', async () => {
    const base = scriptedToolModel({ calls: [], name: 'alias' });
    const model = {
      ...base,
      async getResponse(request: Parameters<typeof base.getResponse>[0]) {
        return {
          ...(await base.getResponse(request)),
          providerData: { model: 'gpt-4o-2024-08-06' },
        };
      },
    };
    await run(new Agent({ name: 'plain', model }), 'hi');
    await flush();
    expect(arden.usage.map((event) => event.model)).toEqual(['gpt-4o-2024-08-06']);
  });

  it('records usage once when a model is both tracked explicitly and patched', async () => {
    const model = trackModelUsage(scriptedToolModel({ calls: [], name: 'gpt-4o' }));
    await run(new Agent({ name: 'plain', model }), 'hi');
    await flush();
    expect(arden.usage).toHaveLength(1);
  });
});

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

describe('native approval route', () => {
  beforeEach(() => {
    install({ approval: 'native' });
  });

  function refundAgent() {
    const { issueRefund, lookupCustomer } = makeTools();
    return new Agent({
      name: 'support',
      model: scriptedToolModel({
        calls: [
          { tool: 'lookup_customer', args: { email: 'a@b.c' } },
          { tool: 'issue_refund', args: { amount: 150, customerId: 'cus_1' } },
        ],
      }),
      tools: [lookupCustomer, issueRefund],
    });
  }

  it('stops the run with an interruption linked to the held Arden action', async () => {
    const agent = refundAgent();
    const result = await run(agent, 'refund');
    expect(result.interruptions).toHaveLength(1);
    const item = result.interruptions[0]!;
    expect(item.name).toBe('issue_refund');
    const [held] = arden.pending();
    expect(interruptionAction(item)).toEqual({
      actionId: held?.actionId,
      toolName: 'issue_refund',
      callId: (item.rawItem as { callId: string }).callId,
    });
    expect(held?.metadata.call_id).toBe((item.rawItem as { callId: string }).callId);
    expect(ran).toEqual(['lookup_customer']);
  });

  it('resumes after an approver approves in Arden, running the tool once with no new check', async () => {
    const agent = refundAgent();
    const first = await run(agent, 'refund');
    const held = arden.pending()[0]!;
    expect(await resolveInterruptions(first)).toMatchObject({ approved: [], rejected: [] });
    arden.approve(held.actionId);
    const resolved = await resolveInterruptions(first);
    expect(resolved.approved).toHaveLength(1);
    const second = await run(agent, first.state);
    expect(ran).toEqual(['lookup_customer', 'issue_refund']);
    expect(finalText(second)).toContain('issue_refund=refunded $150');
    expect(arden.checks).toHaveLength(2);
    await flush();
    expect(arden.results.map((result) => result.actionId)).toContain(held.actionId);
  });

  it('resumes on the next run when Arden has decided, even without resolveInterruptions', async () => {
    const agent = refundAgent();
    const first = await run(agent, 'refund');
    arden.approve(arden.pending()[0]!.actionId);
    const second = await run(agent, first.state);
    expect(ran).toEqual(['lookup_customer', 'issue_refund']);
    expect(finalText(second)).toContain('issue_refund=refunded $150');
    expect(arden.checks).toHaveLength(2);
  });

  it('applies an Arden denial on the next run, even without resolveInterruptions', async () => {
    const agent = refundAgent();
    const first = await run(agent, 'refund');
    arden.deny(arden.pending()[0]!.actionId, 'nope');
    const second = await run(agent, first.state);
    expect(ran).toEqual(['lookup_customer']);
    expect(finalText(second)).toContain('An approver denied this call to "issue_refund": nope.');
    expect(arden.checks).toHaveLength(2);
  });

  it('stays interrupted while the call is still pending in Arden', async () => {
    const agent = refundAgent();
    const first = await run(agent, 'refund');
    const second = await run(agent, first.state);
    expect(second.interruptions).toHaveLength(1);
    expect(arden.checks).toHaveLength(2);
  });

  it('rejects the call when an approver denies it in Arden; the model is told why', async () => {
    const agent = refundAgent();
    const first = await run(agent, 'refund');
    arden.deny(arden.pending()[0]!.actionId, 'not this week');
    const resolved = await resolveInterruptions(first);
    expect(resolved.rejected).toHaveLength(1);
    const second = await run(agent, first.state);
    expect(ran).toEqual(['lookup_customer']);
    expect(finalText(second)).toContain(
      'issue_refund=An approver denied this call to "issue_refund": not this week.',
    );
  });

  it('waits for the decision when asked to', async () => {
    const agent = refundAgent();
    const first = await run(agent, 'refund');
    const decided = resolveInterruptions(first, { wait: 5_000 });
    arden.approve(arden.pending()[0]!.actionId);
    expect((await decided).approved).toHaveLength(1);
  });

  it('runs the call once, unchecked again, when the app approves it with state.approve', async () => {
    const agent = refundAgent();
    const first = await run(agent, 'refund');
    const held = arden.pending()[0]!;
    first.state.approve(first.interruptions[0]!);
    const second = await run(agent, first.state);
    expect(ran).toEqual(['lookup_customer', 'issue_refund']);
    expect(finalText(second)).toContain('issue_refund=refunded $150');
    expect(arden.checks).toHaveLength(2);
    await flush();
    expect(arden.results.find((result) => result.actionId === held.actionId)).toMatchObject({
      status: 'succeeded',
    });
  });

  it('an approver denial in Arden wins over the app approving', async () => {
    const agent = refundAgent();
    const first = await run(agent, 'refund');
    arden.deny(arden.pending()[0]!.actionId, 'no');
    first.state.approve(first.interruptions[0]!);
    const second = await run(agent, first.state);
    expect(ran).toEqual(['lookup_customer']);
    expect(finalText(second)).toContain('An approver denied this call');
  });

  it('records an app rejection (state.reject) on the Arden action', async () => {
    const agent = refundAgent();
    const first = await run(agent, 'refund');
    const held = arden.pending()[0]!;
    first.state.reject(first.interruptions[0]!, { message: 'user said no' });
    const second = await run(agent, first.state);
    expect(ran).toEqual(['lookup_customer']);
    expect(finalText(second)).toContain('issue_refund=user said no');
    await flush();
    expect(arden.results.find((result) => result.actionId === held.actionId)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('user said no'),
    });
  });

  it('does not interrupt for blocked calls; the model is told', async () => {
    const { deleteAccount } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({ calls: [{ tool: 'delete_account', args: { customerId: 'c' } }] }),
      tools: [deleteAccount],
    });
    const result = await run(agent, 'delete');
    expect(result.interruptions).toHaveLength(0);
    expect(ran).toEqual([]);
    expect(finalText(result)).toContain('Arden blocked this call to "delete_account"');
    expect(arden.checks).toHaveLength(1);
  });

  it('keeps the link through RunState.toString() and fromString() in this process', async () => {
    const agent = refundAgent();
    const first = await run(agent, 'refund');
    const serialized = first.state.toString();
    expect(JSON.parse(serialized).arden.actions).toHaveLength(1);
    const restored = await RunState.fromString(agent, serialized);
    arden.approve(arden.pending()[0]!.actionId);
    expect((await resolveInterruptions(restored)).approved).toHaveLength(1);
    const second = await run(agent, restored);
    expect(finalText(second)).toContain('issue_refund=refunded $150');
    expect(arden.checks).toHaveLength(2);
  });

  it('works for explicitly protected tools with approval: native', async () => {
    install({});
    const { issueRefund } = makeTools();
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        calls: [{ tool: 'issue_refund', args: { amount: 1, customerId: 'c' } }],
      }),
      tools: protectFunctionTools([issueRefund], { approval: 'native' }),
    });
    const first = await run(agent, 'refund');
    expect(first.interruptions).toHaveLength(1);
    arden.approve(arden.pending()[0]!.actionId);
    await resolveInterruptions(first);
    const second = await run(agent, first.state);
    expect(finalText(second)).toContain('issue_refund=refunded $1');
    expect(arden.checks).toHaveLength(1);
  });
});
