// The native approval route: held calls become run interruptions linked to Arden actions.
import { flush } from '@arden/core';
import { Agent, RunState, run } from '@openai/agents';
import { beforeEach, describe, expect, it } from 'vitest';
import { arden, finalText, makeTools, ran, useTestArden } from './adapter-test-setup';
import { install, interruptionAction, protectFunctionTools, resolveInterruptions } from './index';
import { scriptedToolModel } from './test-helpers';

useTestArden();

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
