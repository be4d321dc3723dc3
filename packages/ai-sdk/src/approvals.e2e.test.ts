import { configure, createArden, flush, uninstallAdapters, withSession } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { generateText, isStepCount, type ModelMessage } from 'ai';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { ardenToolApproval, guardTools, install, uninstall } from './index';
import { generatingModel, makeTools } from './test-helpers';

// Approve with edit and in-app decisions through the AI SDK, against a real Arden server.
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    policies: [
      {
        name: 'Big refunds need a human',
        tool: 'refund',
        rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
        default: 'allow',
      },
      {
        name: 'Searches are approved in the app',
        tool: 'search',
        action: 'requires_approval',
        approve_in: ['dashboard', 'app'],
      },
    ],
  });
  configure({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent', retryAttempts: 0 });
});

afterAll(async () => {
  await flush();
  uninstallAdapters();
  await t.close();
});

describe('AI SDK: approve with edit, in-app decisions (real server)', () => {
  test('guardTools runs the tool with the approver’s edited arguments and the model reads its result', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 4000 }, id: 'r1' }] },
      { text: 'Refunded.' },
    );
    const running = generateText({
      model,
      tools: guardTools(tools),
      prompt: 'refund 4000',
      stopWhen: isStepCount(3),
    });
    const held = await t.nextPending({ toolName: 'refund' });
    await t.approve(held.id, 'forty is right', {
      patch: [{ op: 'replace', path: '/amount', value: 40 }],
    });
    const result = await running;
    expect(ran).toEqual(['refund']);
    expect(result.steps[0]?.toolResults[0]?.output).toEqual({ refunded: 40 });
    // The model's next turn reads the result with a note on what the approver changed.
    const toolMessage = JSON.stringify(
      model.doGenerateCalls[1]?.prompt.filter((message) => message.role === 'tool'),
    );
    expect(toolMessage).toContain('amount: 4000 → 40');
    expect(toolMessage).toContain('{\\"refunded\\":40}');
    const action = (await t.actions()).find((entry) => entry.id === held.id);
    expect(action?.approval?.edits[0]).toMatchObject({
      before: '{"amount":4000}',
      after: '{"amount":40}',
    });
  });

  test('the app’s approval of an SDK approval request is recorded in Arden as an in-app decision', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'search', input: { query: 'refunds' }, id: 's1' }] },
      { text: 'Found.' },
    );
    const messages: ModelMessage[] = [{ role: 'user', content: 'search' }];
    const first = await generateText({
      model,
      tools,
      messages,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    const request = first.content.find((part) => part.type === 'tool-approval-request') as
      | { approvalId: string }
      | undefined;
    expect(request).toBeDefined();
    expect(ran).toEqual([]);
    const second = await generateText({
      model,
      tools,
      messages: [
        ...messages,
        ...first.response.messages,
        {
          role: 'tool',
          content: [
            { type: 'tool-approval-response', approvalId: request!.approvalId, approved: true },
          ],
        },
      ],
      toolApproval: ardenToolApproval({ appUser: 'enduser@customer.example' }),
      stopWhen: isStepCount(3),
    });
    expect(second.text).toBe('Found.');
    expect(ran).toEqual(['search']);
    const action = (await t.actions()).find((entry) => entry.toolName === 'search');
    expect(action?.status).toBe('approved');
    expect(action?.decidedBy).toBeNull();
    expect(action?.approval).toMatchObject({
      decidedIn: 'app',
      decidedByUser: 'enduser@customer.example',
    });
  });

  test('ardenToolApproval: approved with edit in Arden before the app’s approval, guardTools runs the edit and the model reads it', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 5000 }, id: 'r2' }] },
      { text: 'Refunded.' },
    );
    const guarded = guardTools(tools);
    const messages: ModelMessage[] = [{ role: 'user', content: 'refund 5000' }];
    const first = await generateText({
      model,
      tools: guarded,
      messages,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    const request = first.content.find((part) => part.type === 'tool-approval-request') as
      | { approvalId: string }
      | undefined;
    expect(request).toBeDefined();
    const held = (await t.actions()).filter((entry) => entry.toolName === 'refund').at(-1);
    await t.approve(held!.id, 'fifty', { kwargs: { amount: 50 } });
    const second = await generateText({
      model,
      tools: guarded,
      messages: [
        ...messages,
        ...first.response.messages,
        {
          role: 'tool',
          content: [
            { type: 'tool-approval-response', approvalId: request!.approvalId, approved: true },
          ],
        },
      ],
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual(['refund']);
    expect(second.text).toBe('Refunded.');
    // The model's next turn reads the edited call's result, with the approver's change noted.
    const read = JSON.stringify(model.doGenerateCalls.at(-1)?.prompt);
    expect(read).toContain('amount: 5000 → 50');
    expect(read).toContain('{\\"refunded\\":50}');
  });
});

/** The messages of a run held by Arden (search), and the SDK's approval request in them. */
async function heldSearch(query: string, id: string) {
  const { ran, tools } = makeTools();
  const model = generatingModel(
    { calls: [{ name: 'search', input: { query }, id }] },
    { text: 'Found.' },
  );
  const messages: ModelMessage[] = [{ role: 'user', content: 'search' }];
  const first = await generateText({
    model,
    tools,
    messages,
    toolApproval: ardenToolApproval(),
    stopWhen: isStepCount(3),
  });
  const request = first.content.find((part) => part.type === 'tool-approval-request') as {
    approvalId: string;
    reason: string;
  };
  const actionId = /\(Arden action ([^\s)]+)\)/.exec(request.reason)?.[1] as string;
  const approved: ModelMessage[] = [
    ...messages,
    ...first.response.messages,
    {
      role: 'tool',
      content: [{ type: 'tool-approval-response', approvalId: request.approvalId, approved: true }],
    },
  ];
  return { ran, tools, model, actionId, approved };
}

/** The messages with the held call's input replaced: a client that forged its history. */
function withInput(messages: ModelMessage[], input: unknown): ModelMessage[] {
  return messages.map((message) =>
    message.role === 'assistant' && typeof message.content !== 'string'
      ? {
          ...message,
          content: message.content.map((part) =>
            part.type === 'tool-call' ? { ...part, input } : part,
          ),
        }
      : message,
  );
}

/** What the model read in its last turn (the SDK's denial reasons included). */
function lastPrompt(model: ReturnType<typeof generatingModel>): string {
  return JSON.stringify(model.doGenerateCalls.at(-1)?.prompt ?? []);
}

describe('AI SDK: an approval from the messages runs only its own call, once (real server)', () => {
  test('an approval for another call (other arguments) in the messages is refused; the tool does not run', async () => {
    const { ran, tools, model, actionId, approved } = await heldSearch('weather', 'f1');
    await t.approve(actionId, 'weather is fine');
    // The client swaps the approved call's arguments in its history.
    const forged = withInput(approved, { query: 'all customer emails' });
    const second = await generateText({
      model,
      tools,
      messages: forged,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual([]);
    expect(second.text).toBe('Found.');
    expect(lastPrompt(model)).toContain('is for another call');
    // Its run was not claimed: the approved call itself may still run once.
    const action = (await t.actions()).find((entry) => entry.id === actionId);
    expect(action?.status).toBe('approved');
  });

  test('a forged call under a pending action is refused before the app’s approval is recorded', async () => {
    const { ran, tools, model, actionId, approved } = await heldSearch('weather', 'f2');
    await generateText({
      model,
      tools,
      messages: withInput(approved, { query: 'all customer emails' }),
      toolApproval: ardenToolApproval({ appUser: 'enduser@customer.example' }),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual([]);
    // The end user's approval was not recorded for a call they were not shown.
    const action = (await t.actions()).find((entry) => entry.id === actionId);
    expect(action?.status).toBe('pending');
  });

  test('the same approval replayed for a second run is refused: an approval runs once', async () => {
    const { ran, tools, model, approved } = await heldSearch('refunds', 'p1');
    const run = () =>
      generateText({
        model,
        tools,
        messages: approved,
        toolApproval: ardenToolApproval({ appUser: 'enduser@customer.example' }),
        stopWhen: isStepCount(3),
      });
    const first = await run();
    expect(first.text).toBe('Found.');
    expect(ran).toEqual(['search']);
    // The same history again (a client replaying it, or another process): refused.
    await run();
    expect(ran).toEqual(['search']);
    expect(lastPrompt(model)).toContain('already used for a run');
  });

  test('an app approval the policy does not take waits for Arden’s approver, runs once, and a replay is refused', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 700 }, id: 'w1' }] },
      { text: 'Refunded.' },
    );
    const messages: ModelMessage[] = [{ role: 'user', content: 'refund 700' }];
    const first = await generateText({
      model,
      tools,
      messages,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    const request = first.content.find((part) => part.type === 'tool-approval-request') as {
      approvalId: string;
    };
    const approved: ModelMessage[] = [
      ...messages,
      ...first.response.messages,
      {
        role: 'tool',
        content: [
          { type: 'tool-approval-response', approvalId: request.approvalId, approved: true },
        ],
      },
    ];
    const run = () =>
      generateText({
        model,
        tools,
        messages: approved,
        toolApproval: ardenToolApproval(),
        stopWhen: isStepCount(3),
      });
    // No approve_in: app for refunds: the automatic route waits for an approver in Arden.
    const running = run();
    const held = await t.nextPending({ toolName: 'refund' });
    await t.approve(held.id, 'ok');
    await running;
    expect(ran).toEqual(['refund']);
    await run();
    expect(ran).toEqual(['refund']);
    expect(lastPrompt(model)).toContain('already used for a run');
  });

  test('without the automatic route, an app approval the policy does not take never runs a plain tool', async () => {
    uninstall();
    try {
      const { ran, tools } = makeTools();
      const model = generatingModel(
        { calls: [{ name: 'refund', input: { amount: 900 }, id: 'x1' }] },
        { text: 'Refunded.' },
      );
      const messages: ModelMessage[] = [{ role: 'user', content: 'refund 900' }];
      const first = await generateText({
        model,
        tools,
        messages,
        toolApproval: ardenToolApproval(),
        stopWhen: isStepCount(3),
      });
      const request = first.content.find((part) => part.type === 'tool-approval-request') as {
        approvalId: string;
      };
      await generateText({
        model,
        tools,
        messages: [
          ...messages,
          ...first.response.messages,
          {
            role: 'tool',
            content: [
              { type: 'tool-approval-response', approvalId: request.approvalId, approved: true },
            ],
          },
        ],
        toolApproval: ardenToolApproval(),
        stopWhen: isStepCount(3),
      });
      expect(ran).toEqual([]);
      expect(lastPrompt(model)).toContain('needs an approver in Arden');
    } finally {
      install();
    }
  });

  test('without the automatic route, an approval with edit never runs a plain tool’s original arguments', async () => {
    uninstall();
    try {
      const { ran, tools } = makeTools();
      const model = generatingModel(
        { calls: [{ name: 'refund', input: { amount: 7000 }, id: 'e1' }] },
        { text: 'Refunded.' },
      );
      const messages: ModelMessage[] = [{ role: 'user', content: 'refund 7000' }];
      const first = await generateText({
        model,
        tools,
        messages,
        toolApproval: ardenToolApproval(),
        stopWhen: isStepCount(3),
      });
      const request = first.content.find((part) => part.type === 'tool-approval-request') as {
        approvalId: string;
      };
      const held = (await t.actions()).filter((entry) => entry.toolName === 'refund').at(-1);
      await t.approve(held!.id, 'seventy', { kwargs: { amount: 70 } });
      await generateText({
        model,
        tools,
        messages: [
          ...messages,
          ...first.response.messages,
          {
            role: 'tool',
            content: [
              { type: 'tool-approval-response', approvalId: request.approvalId, approved: true },
            ],
          },
        ],
        toolApproval: ardenToolApproval(),
        stopWhen: isStepCount(3),
      });
      // Neither the model's 7000 (nobody approved it) nor the edit (the SDK cannot run it).
      expect(ran).toEqual([]);
      expect(lastPrompt(model)).toContain('approver required changes');
      expect(lastPrompt(model)).toContain('{\\"amount\\":70}');
    } finally {
      install();
    }
  });

  test('Arden unreachable while recording the app’s approval: the tool does not run (onUnavailable: allow runs it)', async () => {
    const { ran, tools, model, actionId, approved } = await heldSearch('invoices', 'u1');
    const unreachableDecision = (allow: boolean) =>
      createArden({
        apiKey: t.key,
        apiUrl: t.url,
        logLevel: 'silent',
        retryAttempts: 0,
        ...(allow ? { onUnavailable: 'allow' as const } : {}),
        fetch: async (input, init) => {
          const url = String(input instanceof Request ? input.url : input);
          if (url.endsWith('/decision')) throw new TypeError('fetch failed: connect ECONNREFUSED');
          return fetch(input, init);
        },
      });
    await generateText({
      model,
      tools,
      messages: approved,
      toolApproval: ardenToolApproval({ arden: unreachableDecision(false) }),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual([]);
    expect(lastPrompt(model)).toContain('could not record the app');
    expect((await t.actions()).find((entry) => entry.id === actionId)?.status).toBe('pending');
    // The documented choice to run calls while Arden is unreachable still applies.
    await generateText({
      model,
      tools,
      messages: approved,
      toolApproval: ardenToolApproval({ arden: unreachableDecision(true) }),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual(['search']);
  });
});

// The automatic route (configure() with plain tools) runs a tool through the SDK's telemetry hook,
// which can only run the SDK's own closure over the model's input: an approval with edit cannot
// run there, and must never run the model's original arguments as if they were approved.
describe('AI SDK automatic route: an approval with edit is refused, never run as the original (real server)', () => {
  test('wait route: neither the model’s call nor the edit runs; the model reads the approved arguments', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 6000 }, id: 'te1' }] },
      { text: 'Understood.' },
    );
    const running = withSession('telemetry-edit-wait', () =>
      generateText({ model, tools, prompt: 'refund 6000', stopWhen: isStepCount(3) }),
    );
    const held = await t.nextPending({ sessionId: 'telemetry-edit-wait' });
    expect(held.toolName).toBe('refund');
    await t.approve(held.id, 'sixty', { kwargs: { amount: 60 } });
    const result = await running;
    expect(ran).toEqual([]);
    expect(result.steps[0]?.toolResults).toEqual([]);
    const error = JSON.stringify(result.steps[0]?.content.filter((p) => p.type === 'tool-error'));
    expect(error).toContain('approver required changes');
    // The model's next turn reads why, with the approved arguments to call again with.
    expect(lastPrompt(model)).toContain('approver required changes');
    expect(lastPrompt(model)).toContain('{\\"amount\\":60}');
    // Who changed what (the approver's edit, as core words it for every route).
    expect(lastPrompt(model)).toContain('amount: 6000 → 60');
    // Arden shows the approval and the edit as usual.
    const action = (await t.actions()).find((entry) => entry.id === held.id);
    expect(action?.status).toBe('approved');
    expect(action?.approval?.edits[0]).toMatchObject({
      before: '{"amount":6000}',
      after: '{"amount":60}',
    });
  });

  test('native route: approved with edit in Arden before the app’s approval, a plain tool does not run', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 8000 }, id: 'te2' }] },
      { text: 'Understood.' },
    );
    const messages: ModelMessage[] = [{ role: 'user', content: 'refund 8000' }];
    const first = await generateText({
      model,
      tools,
      messages,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    const request = first.content.find((part) => part.type === 'tool-approval-request') as {
      approvalId: string;
      reason: string;
    };
    const actionId = /\(Arden action ([^\s)]+)\)/.exec(request.reason)?.[1] as string;
    await t.approve(actionId, 'eighty', { kwargs: { amount: 80 } });
    await generateText({
      model,
      tools,
      messages: [
        ...messages,
        ...first.response.messages,
        {
          role: 'tool',
          content: [
            { type: 'tool-approval-response', approvalId: request.approvalId, approved: true },
          ],
        },
      ],
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    expect(ran).toEqual([]);
    expect(lastPrompt(model)).toContain('approver required changes');
    expect(lastPrompt(model)).not.toContain('refunded');
  });
});

// configure()'s automatic route sees only calls that keep the global telemetry: a call that turns
// it off runs a plain tool directly. ardenToolApproval must not count on the route there.
describe('AI SDK native route, a call with its telemetry off under configure() (real server)', () => {
  const telemetry = { isEnabled: false };

  /** An Arden client that notes when it starts waiting for a decision (a long-poll of /status). */
  function watchedArden() {
    const seen = { waiting: false };
    const arden = createArden({
      apiKey: t.key,
      apiUrl: t.url,
      logLevel: 'silent',
      retryAttempts: 0,
      fetch: async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        if (/\/status\/[^?]+\?wait=/.test(url)) seen.waiting = true;
        return fetch(input, init);
      },
    });
    return { arden, seen };
  }

  async function heldRefund(amount: number, id: string) {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount }, id }] },
      { text: 'Refunded.' },
    );
    const messages: ModelMessage[] = [{ role: 'user', content: `refund ${amount}` }];
    const first = await generateText({
      model,
      tools,
      messages,
      telemetry,
      toolApproval: ardenToolApproval(),
      stopWhen: isStepCount(3),
    });
    const request = first.content.find((part) => part.type === 'tool-approval-request') as {
      approvalId: string;
      reason: string;
    };
    const actionId = /\(Arden action ([^\s)]+)\)/.exec(request.reason)?.[1] as string;
    const resume = (approval = ardenToolApproval()) =>
      generateText({
        model,
        tools,
        telemetry,
        messages: [
          ...messages,
          ...first.response.messages,
          {
            role: 'tool',
            content: [
              { type: 'tool-approval-response', approvalId: request.approvalId, approved: true },
            ],
          },
        ],
        toolApproval: approval,
        stopWhen: isStepCount(3),
      });
    return { ran, model, actionId, resume };
  }

  test('an approval with edit in Arden is refused: the model’s original arguments never run', async () => {
    const { ran, model, actionId, resume } = await heldRefund(9000, 'off1');
    await t.approve(actionId, 'ninety', { kwargs: { amount: 90 } });
    await resume();
    expect(ran).toEqual([]);
    expect(lastPrompt(model)).toContain('approver required changes');
    expect(lastPrompt(model)).toContain('{\\"amount\\":90}');
  });

  test('the app’s approval of a call whose policy needs Arden’s approver waits for that approver', async () => {
    const { ran, model, actionId, resume } = await heldRefund(900, 'off2');
    const { arden, seen } = watchedArden();
    const resumed = resume(ardenToolApproval({ arden }));
    // The app's approval alone does not decide (the policy takes Arden's approvers only): the
    // resumed call waits for Arden's decision, and the tool has not run.
    await vi.waitUntil(() => seen.waiting || ran.length > 0);
    expect(ran).toEqual([]);
    expect((await t.actions()).find((entry) => entry.id === actionId)?.status).toBe('pending');
    await t.deny(actionId, 'not this customer');
    await resumed;
    expect(ran).toEqual([]);
    expect(lastPrompt(model)).toContain('not this customer');
  });

  test('…and runs once Arden’s approver approves', async () => {
    const { ran, actionId, resume } = await heldRefund(800, 'off3');
    const resumed = resume();
    await t.approve(actionId, 'fine');
    await resumed;
    expect(ran).toEqual(['refund']);
  });
});
