// Child-process tests against the built package (run `pnpm build` first; turbo does): ESM and
// CJS consumers, an app that loads both, and a native approval resumed in a second process.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { configure, flush, uninstallAdapters } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { Agent, run, tool } from '@openai/agents';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { install, uninstall } from './index';
import { scriptedToolModel } from './test-helpers';

const run$ = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const fixture = (name: string) => join(packageDir, 'test-fixtures', name);

async function node(script: string, env: Record<string, string> = {}) {
  const { stdout } = await run$(process.execPath, [script], {
    cwd: packageDir,
    env: { ...process.env, OPENAI_AGENTS_DISABLE_TRACING: '1', ...env },
    timeout: 60_000,
  });
  return JSON.parse(stdout);
}

beforeAll(() => {
  for (const file of ['dist/index.js', 'dist/index.cjs']) {
    if (!existsSync(join(packageDir, file))) {
      throw new Error(`${file} is missing: run "pnpm --filter @arden/openai-agents build" first.`);
    }
  }
});

describe.each([
  ['ESM', 'consumer.mjs', 'esm'],
  ['CJS', 'consumer.cjs', 'cjs'],
])('%s consumer of the build', (_label, script, format) => {
  it('is intercepted: checks, denial, session and usage of plain and streamed runs', async () => {
    const output = await node(fixture(script));
    expect(output.format).toBe(format);
    expect(output.ran).toEqual(['lookup_customer', 'lookup_customer']);
    expect(output.finalOutput).toContain('Arden blocked this call to "delete_account"');
    expect(output.checks).toEqual(
      ['lookup_customer', 'delete_account', 'lookup_customer', 'delete_account'].map(
        (toolName, index) => ({
          toolName,
          decision: index % 2 === 0 ? 'allow' : 'block',
          sessionId: `${format}-session`,
        }),
      ),
    );
    expect(output.usage).toHaveLength(6);
    for (const event of output.usage) {
      expect(event).toMatchObject({
        model: 'gpt-4o-mini',
        prompt_tokens: 100,
        completion_tokens: 20,
        session_id: `${format}-session`,
      });
    }
  });
});

it('intercepts both SDK builds when an ESM app also loads the CJS build', async () => {
  const output = await node(fixture('mixed.mjs'));
  expect(output.distinctClasses).toBe(true);
  expect(output.ran).toEqual([]);
  expect(output.checks).toEqual(['esm', 'cjs']);
  expect(output.outputs.cjs).toContain('Arden blocked');
});

// Against a real server: in a second process the link is only what the saved state says, and the
// call runs only as the decision's signed receipt proves it (the test Arden of @arden/core/test
// signs none, and a receipt-less resume in another process is refused).
describe('native approval resumed in a second process', () => {
  let t: TestServer;
  let directory: string;
  const ran: string[] = [];

  beforeAll(async () => {
    t = await startTestServer({
      environment: 'test',
      policies: [
        { name: 'Refunds need a human', tool: 'issue_refund', action: 'requires_approval' },
      ],
    });
  });

  beforeEach(async () => {
    ran.length = 0;
    configure({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent', retryAttempts: 0 });
    install({ approval: 'native' });
    directory = mkdtempSync(join(tmpdir(), 'arden-openai-agents-'));
  });

  afterEach(async () => {
    await flush();
    uninstallAdapters();
    uninstall();
    rmSync(directory, { recursive: true, force: true });
  });

  afterAll(async () => {
    uninstall();
    await t.close();
  });

  async function interruptedRun(): Promise<string> {
    const agent = new Agent({
      name: 'support',
      model: scriptedToolModel({
        name: 'gpt-4o-mini',
        calls: [
          { tool: 'lookup_customer', args: { email: 'a@b.c' } },
          { tool: 'issue_refund', args: { amount: 150, customerId: 'cus_1' } },
        ],
      }),
      tools: [
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
          name: 'issue_refund',
          description: 'Refund a customer.',
          parameters: z.object({ amount: z.number(), customerId: z.string() }),
          execute: async () => {
            ran.push('issue_refund');
            return 'refunded';
          },
        }),
      ],
    });
    const result = await run(agent, 'refund');
    expect(result.interruptions).toHaveLength(1);
    const file = join(directory, 'state.json');
    writeFileSync(file, result.state.toString());
    return file;
  }

  const childEnv = (stateFile: string) => ({
    ARDEN_API_URL: t.url,
    ARDEN_API_KEY: t.key,
    STATE_FILE: stateFile,
  });

  const refunds = async () =>
    (await t.actions()).filter((action) => action.toolName === 'issue_refund');

  it('runs the tool once in the second process after an approver approves in Arden', async () => {
    const stateFile = await interruptedRun();
    const held = (await t.nextPending({ toolName: 'issue_refund' })) as { id: string };
    const refundsBefore = (await refunds()).length;
    const child = node(fixture('resume.mjs'), childEnv(stateFile));
    // The second process waits for the decision (resolveInterruptions with wait).
    await new Promise((resolve) => setTimeout(resolve, 300));
    await t.approve(held.id, 'fine');
    const output = await child;
    expect(ran).toEqual(['lookup_customer']);
    expect(output).toMatchObject({ ran: ['issue_refund'], approved: 1, rejected: 0 });
    expect(output.finalOutput).toContain('issue_refund=refunded $150');
    // No new check in the second process: the held action is the one that was decided, and
    // its outcome was reported on it.
    const checked = await refunds();
    expect(checked).toHaveLength(refundsBefore);
    expect(checked.at(-1)?.id).toBe(held.id);
    await expect
      .poll(async () => (await refunds()).find((action) => action.id === held.id)?.resultStatus, {
        timeout: 10_000,
      })
      .toBe('succeeded');
    // Usage of both processes' model calls (this test's are the first on the server).
    await expect
      .poll(async () => (await t.usage()).filter((event) => event.model === 'gpt-4o-mini').length, {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(3);
  });

  it('does not run the tool when an approver denies it; the model is told', async () => {
    const stateFile = await interruptedRun();
    const held = (await t.nextPending({ toolName: 'issue_refund' })) as { id: string };
    await t.deny(held.id, 'over the limit');
    const refundsBefore = (await refunds()).length;
    const output = await node(fixture('resume.mjs'), childEnv(stateFile));
    expect(output).toMatchObject({ ran: [], approved: 0, rejected: 1 });
    expect(output.finalOutput).toContain(
      'issue_refund=An approver denied this call to "issue_refund": over the limit.',
    );
    // No new check in the second process.
    expect(await refunds()).toHaveLength(refundsBefore);
  });
});
