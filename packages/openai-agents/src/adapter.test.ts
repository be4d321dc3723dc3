// The adapter end to end: automatic interception after configure(), sessions, and usage.
import {
  ArdenUnavailableError,
  configure,
  flush,
  registeredAdapters,
  uninstallAdapters,
  withSession,
} from '@arden/core';
import { Agent, Runner, run } from '@openai/agents';
import { describe, expect, it } from 'vitest';
import { arden, finalText, makeTools, ran, useTestArden } from './adapter-test-setup';
import { install, protectFunctionTool, trackModelUsage, uninstall } from './index';
import { scriptedToolModel } from './test-helpers';

useTestArden();

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
      // Model calls unchecked (no budgets): only the tool check meets the unreachable server.
      modelCallChecks: false,
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

  it('does not call the model when Arden cannot be asked about its budget (fail closed)', async () => {
    configure({
      ...arden.options(),
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const model = scriptedToolModel({ calls: [] });
    const failure = await run(new Agent({ name: 'support', model }), 'hi').catch(
      (error: unknown) => error,
    );
    expect(ArdenUnavailableError.isInstance(failure)).toBe(true);
    expect(model.requests).toHaveLength(0);
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
