// Approve with edit (wait route) and in-app decisions (native route: state.approve and
// state.reject) through the Agents SDK with its scripted model, against a real Arden server.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configure, flush } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { Agent, MCPServerStdio, RunState, run, tool } from '@openai/agents';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { install, resolveInterruptions, uninstall } from './index';
import { scriptedToolModel } from './test-helpers';

let t: TestServer;
const ran: unknown[] = [];

beforeAll(async () => {
  t = await startTestServer({
    environment: 'test',
    policies: [
      {
        name: 'Big refunds need a human',
        tool: 'issue_refund',
        rules: [{ if: 'args.amount > 100', then: 'requires_approval' }],
        default: 'allow',
      },
      {
        name: 'Deleting the pinned note needs a human',
        tool: 'mcp.notes.delete_note',
        rules: [{ if: "args.id == 'pinned'", then: 'requires_approval' }],
        default: 'allow',
      },
      {
        name: 'Emails are approved in the app',
        tool: 'send_email',
        action: 'requires_approval',
        approve_in: ['dashboard', 'app'],
      },
    ],
  });
  configure({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent', retryAttempts: 0 });
});

afterAll(async () => {
  await t.close();
});

afterEach(async () => {
  ran.length = 0;
  await flush();
  uninstall();
});

function agent(calls: { tool: string; args: Record<string, unknown> }[]) {
  return new Agent({
    name: 'support',
    model: scriptedToolModel({ calls }),
    tools: [
      tool({
        name: 'issue_refund',
        description: 'Refund a customer.',
        parameters: z.object({ amount: z.number(), customerId: z.string() }),
        execute: async (input) => {
          ran.push(input);
          return `refunded $${input.amount}`;
        },
      }),
      tool({
        name: 'send_email',
        description: 'Send an email.',
        parameters: z.object({ to: z.string() }),
        execute: async (input) => {
          ran.push(input);
          return `sent to ${input.to}`;
        },
      }),
    ],
  });
}

describe('Agents SDK: approve with edit, in-app decisions (real server)', () => {
  it('runs the tool with the input an approver edited', async () => {
    install({});
    const running = run(
      agent([{ tool: 'issue_refund', args: { amount: 9000, customerId: 'c' } }]),
      'go',
    );
    const held = await t.nextPending({ toolName: 'issue_refund' });
    await t.approve(held.id, 'ninety', { kwargs: { amount: 90, customerId: 'c' } });
    const result = await running;
    expect(ran).toEqual([{ amount: 90, customerId: 'c' }]);
    expect(String(result.finalOutput)).toContain('refunded $90');
    // The scripted model answers with the tool results it read: the approver's change is in them.
    expect(String(result.finalOutput)).toContain('amount: 9000 → 90');
  });

  it('state.approve records the end user’s in-app approval; the tool runs', async () => {
    install({ approval: 'native', appUser: 'enduser@customer.example' });
    const support = agent([{ tool: 'send_email', args: { to: 'a@example.com' } }]);
    const first = await run(support, 'go');
    expect(first.interruptions).toHaveLength(1);
    first.state.approve(first.interruptions[0]!);
    await run(support, first.state);
    expect(ran).toEqual([{ to: 'a@example.com' }]);
    const action = (await t.actions()).find((entry) => entry.toolName === 'send_email');
    expect(action?.status).toBe('approved');
    expect(action?.approval).toMatchObject({
      decidedIn: 'app',
      decidedByUser: 'enduser@customer.example',
    });
  });

  it('state.reject records the end user’s in-app denial', async () => {
    install({ approval: 'native', appUser: 'enduser@customer.example' });
    const support = agent([{ tool: 'send_email', args: { to: 'b@example.com' } }]);
    const first = await run(support, 'go');
    first.state.reject(first.interruptions[0]!, { message: 'not this one' });
    await run(support, first.state);
    expect(ran).toEqual([]);
    const action = (await t.actions()).filter((entry) => entry.toolName === 'send_email').at(-1);
    await expect
      .poll(async () => (await t.actions()).find((entry) => entry.id === action?.id)?.status)
      .toBe('denied');
    const denied = (await t.actions()).find((entry) => entry.id === action?.id);
    expect(denied?.approval).toMatchObject({
      decidedIn: 'app',
      decidedByUser: 'enduser@customer.example',
    });
    expect(denied?.notes).toBe('not this one');
  });

  it('an MCP server tool runs the input an approver edited; the model reads what changed', async () => {
    install({});
    const directory = mkdtempSync(join(tmpdir(), 'arden-agents-edit-'));
    const notes = new MCPServerStdio({
      name: 'notes',
      command: process.execPath,
      args: [fileURLToPath(new URL('../test-fixtures/notes-server.mjs', import.meta.url))],
      env: { NOTES_LOG: join(directory, 'notes'), PATH: process.env.PATH ?? '' },
    });
    await notes.connect();
    try {
      const running = run(
        new Agent({
          name: 'notes-agent',
          model: scriptedToolModel({ calls: [{ tool: 'delete_note', args: { id: 'pinned' } }] }),
          mcpServers: [notes],
        }),
        'go',
      );
      const held = await t.nextPending({ toolName: 'mcp.notes.delete_note' });
      await t.approve(held.id, 'not the pinned one', { kwargs: { id: 'n3' } });
      const result = await running;
      expect(readFileSync(join(directory, 'notes'), 'utf8').trim()).toBe('delete_note n3');
      expect(String(result.finalOutput)).toContain('id: "pinned" → "n3"');
      expect(String(result.finalOutput)).toContain('deleted n3');
    } finally {
      await notes.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('native route: approved with edit in Arden before state.approve, the edited input runs', async () => {
    install({ approval: 'native' });
    const support = agent([{ tool: 'issue_refund', args: { amount: 9000, customerId: 'c' } }]);
    const first = await run(support, 'go');
    expect(first.interruptions).toHaveLength(1);
    const held = (await t.actions()).filter((entry) => entry.toolName === 'issue_refund').at(-1);
    await t.approve(held!.id, 'ninety', { kwargs: { amount: 90, customerId: 'c' } });
    first.state.approve(first.interruptions[0]!);
    const result = await run(support, first.state);
    expect(ran).toEqual([{ amount: 90, customerId: 'c' }]);
    expect(String(result.finalOutput)).toContain('amount: 9000 → 90');
  });

  it('native route: approved with edit in Arden, resolveInterruptions resumes with the edited input', async () => {
    install({ approval: 'native' });
    const support = agent([{ tool: 'issue_refund', args: { amount: 7000, customerId: 'c' } }]);
    const first = await run(support, 'go');
    expect(first.interruptions).toHaveLength(1);
    const held = (await t.actions()).filter((entry) => entry.toolName === 'issue_refund').at(-1);
    await t.approve(held!.id, 'seventy', { kwargs: { amount: 70, customerId: 'c' } });
    expect((await resolveInterruptions(first)).approved).toHaveLength(1);
    const result = await run(support, first.state);
    expect(ran).toEqual([{ amount: 70, customerId: 'c' }]);
    expect(String(result.finalOutput)).toContain('amount: 7000 → 70');
  });
});

describe('Agents SDK native route: an approval runs only its exact call, once (real server)', () => {
  const heldRefund = async () =>
    (await t.actions()).filter((entry) => entry.toolName === 'issue_refund').at(-1)!;
  const reconfigure = (apiUrl: string, extra: Record<string, unknown> = {}) =>
    configure({ apiKey: t.key, apiUrl, logLevel: 'silent', retryAttempts: 0, ...extra });
  /** Arden out of reach for the held call's confirmation (status, in-app decision, run claim). */
  const approvalsUnreachable = () =>
    reconfigure(t.url, {
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = String(input instanceof Request ? input.url : input);
        if (/\/status\/|\/v1\/actions\/[^/]+\/(decision|run)/.test(url)) {
          throw new TypeError('fetch failed: connect ECONNREFUSED');
        }
        return fetch(input, init);
      }) as typeof fetch,
    });

  afterEach(() => {
    reconfigure(t.url);
  });

  it('a saved state whose input was edited after the approval does not run it', async () => {
    install({ approval: 'native' });
    reconfigure(t.url, { maxWaitMs: 300 });
    const support = agent([{ tool: 'issue_refund', args: { amount: 150, customerId: 'c' } }]);
    const first = await run(support, 'go');
    const held = await heldRefund();
    await t.approve(held.id, 'ok for 150');
    const saved = first.state.toString();
    const tampered = saved.replaceAll('\\"amount\\":150', '\\"amount\\":150000');
    expect(tampered).not.toBe(saved);
    const restored = await RunState.fromString(support, tampered);
    await resolveInterruptions(restored);
    await run(support, restored);
    expect(ran).toEqual([]);
    // The edited call was checked on its own (and is held there), not run under the approval.
    const latest = await heldRefund();
    expect(latest.id).not.toBe(held.id);
    expect(latest.kwargsJson).toContain('150000');
  });

  it('a replayed saved state does not run the approved call a second time', async () => {
    install({ approval: 'native' });
    const support = agent([{ tool: 'issue_refund', args: { amount: 160, customerId: 'c' } }]);
    const first = await run(support, 'go');
    const held = await heldRefund();
    await t.approve(held.id, 'ok');
    const saved = first.state.toString();
    await resolveInterruptions(first);
    await run(support, first.state);
    expect(ran).toEqual([{ amount: 160, customerId: 'c' }]);
    const again = await RunState.fromString(support, saved);
    await resolveInterruptions(again);
    const replay = await run(support, again);
    expect(ran).toHaveLength(1);
    expect(String(replay.finalOutput)).toContain('already used');
  });

  it('Arden unreachable when an approved call resumes: the tool does not run', async () => {
    install({ approval: 'native' });
    const support = agent([{ tool: 'issue_refund', args: { amount: 170, customerId: 'c' } }]);
    const first = await run(support, 'go');
    const held = await heldRefund();
    await t.approve(held.id, 'ok');
    await resolveInterruptions(first);
    approvalsUnreachable();
    await run(support, first.state);
    expect(ran).toEqual([]);
  });

  it('Arden unreachable when the app approves a held call (state.approve): the tool does not run', async () => {
    install({ approval: 'native' });
    const support = agent([{ tool: 'send_email', args: { to: 'a@b.c' } }]);
    const first = await run(support, 'go');
    expect(first.interruptions).toHaveLength(1);
    first.state.approve(first.interruptions[0]!);
    approvalsUnreachable();
    await run(support, first.state);
    expect(ran).toEqual([]);
  });
});
