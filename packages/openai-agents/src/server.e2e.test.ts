// End to end against a real Arden server (@arden/server on the embedded store, 127.0.0.1,
// port 0, a temporary data directory): the same scenarios as adapter.test.ts, with approvals
// decided through the server's approval service (what the dashboard and the admin API call).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { configure, flush, uninstallAdapters, withSession } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { Agent, run, tool } from '@openai/agents';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { install, protectFunctionTools, resolveInterruptions, uninstall } from './index';
import { scriptedToolModel } from './test-helpers';

const execute = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

let t: TestServer;
const ran: string[] = [];

beforeAll(async () => {
  t = await startTestServer({
    environment: 'test',
    policies: [
      { name: 'Never delete accounts', tool: 'delete_account', action: 'block' },
      { name: 'Refunds need a human', tool: 'issue_refund', action: 'requires_approval' },
    ],
  });
});

afterAll(async () => {
  await t.close();
});

beforeEach(() => {
  ran.length = 0;
  configure({
    apiKey: t.key,
    apiUrl: t.url,
    logLevel: 'silent',
    retryAttempts: 0,
    usageFlushIntervalMs: 10,
  });
  install({});
});

afterEach(async () => {
  await flush();
  uninstallAdapters();
  uninstall();
});

function makeTools() {
  return [
    tool({
      name: 'lookup_customer',
      description: 'Find a customer by email.',
      parameters: z.object({ email: z.string() }),
      execute: async ({ email }) => {
        ran.push('lookup_customer');
        return `customer cus_1 (${email})`;
      },
    }),
    tool({
      name: 'delete_account',
      description: 'Delete an account.',
      parameters: z.object({ customerId: z.string() }),
      execute: async () => {
        ran.push('delete_account');
        return 'deleted';
      },
    }),
    tool({
      name: 'issue_refund',
      description: 'Refund a customer.',
      parameters: z.object({ amount: z.number(), customerId: z.string() }),
      execute: async ({ amount }) => {
        ran.push('issue_refund');
        return `refunded $${amount}`;
      },
    }),
  ];
}

function agentCalling(
  calls: { tool: string; args: Record<string, unknown> }[],
  name = 'gpt-4o-mini',
) {
  return new Agent({
    name: 'support',
    model: scriptedToolModel({ name, calls }),
    tools: makeTools(),
  });
}

const actions = (sessionId: string) => t.actions({ sessionId });
const nextPending = (sessionId: string) => t.nextPending({ sessionId });

async function usage(sessionId: string) {
  await flush();
  return t.usage({ sessionId });
}

let sessionCounter = 0;
const newSession = () => `oa-e2e-${Date.now()}-${++sessionCounter}`;

describe('against a real Arden server', () => {
  it('runs allowed calls, tells the model of blocked ones, and logs both in the session', async () => {
    const session = newSession();
    const result = await withSession(session, () =>
      run(
        agentCalling([
          { tool: 'lookup_customer', args: { email: 'ada@example.com' } },
          { tool: 'delete_account', args: { customerId: 'cus_1' } },
        ]),
        'go',
      ),
    );
    expect(ran).toEqual(['lookup_customer']);
    expect(String(result.finalOutput)).toContain(
      'delete_account=Arden blocked this call to "delete_account" by policy',
    );
    const logged = await actions(session);
    expect(logged.map((action) => [action.toolName, action.decision, action.sessionId])).toEqual([
      ['lookup_customer', 'allow', session],
      ['delete_account', 'block', session],
    ]);
    expect(logged[0]?.kwargs).toEqual({ email: 'ada@example.com' });
    await flush();
    const reported = (await actions(session))[0];
    expect(reported?.resultStatus).toBe('succeeded');
  });

  it('holds a call until an approver approves it (wait), then runs it once', async () => {
    const session = newSession();
    const pending = withSession(session, () =>
      run(agentCalling([{ tool: 'issue_refund', args: { amount: 150, customerId: 'c' } }]), 'go'),
    );
    const held = await nextPending(session);
    expect(ran).toEqual([]);
    await t.approve(held.id, 'ok');
    const result = await pending;
    expect(ran).toEqual(['issue_refund']);
    expect(String(result.finalOutput)).toBe('done: issue_refund=refunded $150');
    expect(await actions(session)).toHaveLength(1);
  });

  it('does not run a call an approver denies (wait); the model is told why', async () => {
    const session = newSession();
    const pending = withSession(session, () =>
      run(agentCalling([{ tool: 'issue_refund', args: { amount: 9000, customerId: 'c' } }]), 'go'),
    );
    const held = await nextPending(session);
    await t.deny(held.id, 'too much');
    const result = await pending;
    expect(ran).toEqual([]);
    expect(String(result.finalOutput)).toBe(
      'done: issue_refund=An approver denied this call to "issue_refund": too much. The tool did not run.',
    );
  });

  it('records usage with the model and counts, plain and streamed, in the session', async () => {
    const session = newSession();
    await withSession(session, async () => {
      await run(
        agentCalling([{ tool: 'lookup_customer', args: { email: 'a' } }], 'gpt-4o-mini'),
        'go',
      );
      const stream = await run(agentCalling([], 'gpt-4.1'), 'go', { stream: true });
      for await (const _event of stream) {
        // drain
      }
      await stream.completed;
    });
    const recorded = await usage(session);
    const rows = recorded.map((event) => [event.model, event.promptTokens, event.completionTokens]);
    expect(rows.sort()).toEqual([
      ['gpt-4.1', 100, 20],
      ['gpt-4o-mini', 100, 20],
      ['gpt-4o-mini', 100, 20],
    ]);
    expect(recorded.every((event) => event.rateFound && event.costUsd > 0)).toBe(true);
  });

  it('checks a call once when its tool is both wrapped and auto-patched', async () => {
    const session = newSession();
    await withSession(session, () =>
      run(
        new Agent({
          name: 'support',
          model: scriptedToolModel({ calls: [{ tool: 'lookup_customer', args: { email: 'a' } }] }),
          tools: protectFunctionTools(makeTools()),
        }),
        'go',
      ),
    );
    expect(await actions(session)).toHaveLength(1);
  });

  it('native route: interrupts, and a second process resumes after the approver decides', async () => {
    install({ approval: 'native' });
    const session = newSession();
    const first = await withSession(session, () =>
      run(
        agentCalling([
          { tool: 'lookup_customer', args: { email: 'a@b.c' } },
          { tool: 'issue_refund', args: { amount: 150, customerId: 'cus_1' } },
        ]),
        'refund',
      ),
    );
    expect(first.interruptions).toHaveLength(1);
    const held = await nextPending(session);
    expect(held.metadata).toMatchObject({
      framework: 'openai-agents',
      call_id: (first.interruptions[0]!.rawItem as { callId: string }).callId,
    });
    const directory = mkdtempSync(join(tmpdir(), 'arden-openai-agents-state-'));
    try {
      const stateFile = join(directory, 'state.json');
      writeFileSync(stateFile, first.state.toString());
      await t.approve(held.id);
      const { stdout } = await execute(
        process.execPath,
        [join(packageDir, 'test-fixtures', 'resume.mjs')],
        {
          cwd: packageDir,
          env: {
            ...process.env,
            OPENAI_AGENTS_DISABLE_TRACING: '1',
            ARDEN_API_URL: t.url,
            ARDEN_API_KEY: t.key,
            STATE_FILE: stateFile,
          },
          timeout: 60_000,
        },
      );
      const output = JSON.parse(stdout);
      expect(output).toMatchObject({ ran: ['issue_refund'], approved: 1 });
      expect(output.finalOutput).toContain('issue_refund=refunded $150');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
    const logged = await actions(session);
    expect(logged.map((action) => action.toolName)).toEqual(['lookup_customer', 'issue_refund']);
    const refund = logged[1];
    expect(refund?.status).toBe('approved');
    expect(refund?.resultStatus).toBe('succeeded');
  });

  it('native route: an approver denial rejects the interruption in this process', async () => {
    install({ approval: 'native' });
    const session = newSession();
    const agent = agentCalling([{ tool: 'issue_refund', args: { amount: 1, customerId: 'c' } }]);
    const first = await withSession(session, () => run(agent, 'refund'));
    const held = await nextPending(session);
    await t.deny(held.id, 'no');
    expect((await resolveInterruptions(first)).rejected).toHaveLength(1);
    const second = await withSession(session, () => run(agent, first.state));
    expect(ran).toEqual([]);
    expect(String(second.finalOutput)).toContain(
      'An approver denied this call to "issue_refund": no.',
    );
  });
});
