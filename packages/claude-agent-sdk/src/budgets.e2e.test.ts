// Budgets through the real Claude Agent SDK (its own Claude Code binary), offline: the child's
// model calls go through the adapter's loopback proxy to the local fake Anthropic API, and a real
// Arden server reserves each one before it is sent (refused over budget: the call never reaches
// the API) and settles it with the streamed call's final usage.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Options, query } from '@anthropic-ai/claude-agent-sdk';
import {
  ArdenUnavailableError,
  BudgetExceededError,
  configure,
  flush,
  getArden,
  uninstallAdapters,
} from '@arden/core';
import { type ScriptedTurn, startFakeAnthropic } from '@arden/fake-anthropic';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { type QueryWithArdenOptions, queryWithArden } from './index';
import { agentSdkExecutable } from './test-agents';

const pathToClaudeCodeExecutable = agentSdkExecutable();
// A Claude Code request carries its system prompt and tool definitions (tens of thousands of
// estimated tokens) and max_tokens of 32 000: the session cap leaves room for a few of them.
const limitTokens = 2_000_000;

let arden: TestServer;
let home: string;
let work: string;

beforeAll(async () => {
  arden = await startTestServer({
    pendingTimeoutMs: 60_000,
    budgets: [{ scope: 'session', name: 'Run cap', limitTokens }],
  });
});

afterAll(async () => {
  await arden.close();
});

function configureArden(extra: Record<string, unknown> = {}) {
  configure({
    apiKey: arden.key,
    apiUrl: arden.url,
    logLevel: 'silent',
    retryAttempts: 0,
    usageFlushIntervalMs: 10,
    resultFlushIntervalMs: 10,
    ...extra,
  });
}

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'arden-budget-home-'));
  work = mkdtempSync(join(tmpdir(), 'arden-budget-work-'));
  configureArden();
});

afterEach(async () => {
  await flush();
  uninstallAdapters();
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** Runs one prompt through the real SDK and the proxy, against `upstream`. */
async function runAgent(upstream: string, arden: QueryWithArdenOptions, options: Options = {}) {
  const messages: any[] = [];
  const run = queryWithArden(
    query,
    {
      prompt: 'Do the task.',
      options: {
        cwd: work,
        pathToClaudeCodeExecutable,
        model: 'claude-sonnet-4-5',
        persistSession: false,
        settingSources: [],
        env: {
          PATH: process.env.PATH ?? '',
          HOME: home,
          ANTHROPIC_BASE_URL: upstream,
          ANTHROPIC_API_KEY: 'sk-fake-key',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          DISABLE_TELEMETRY: '1',
          DISABLE_AUTOUPDATER: '1',
        },
        ...options,
      },
    },
    arden,
  );
  for await (const message of run) messages.push(message);
  return { messages, result: messages.find((m) => m.type === 'result') };
}

/** The session budget's standing (agent API): a model-call check of nothing. */
async function standing(session: string, settled = true) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await flush();
    const probe = await getArden().checkModelCall({
      model: 'claude-sonnet-4-5',
      estimatedInputTokens: 0,
      maxOutputTokens: 0,
      sessionId: session,
    });
    const budget = probe.budgets[0] as any;
    if (!settled || budget?.reserved_tokens === 0 || Date.now() > deadline) return budget;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const writeScript = (target: string): ScriptedTurn[] => [
  {
    toolUses: [{ name: 'Write', input: { file_path: target, content: 'hello\n' } }],
    usage: { inputTokens: 1000, outputTokens: 50 },
  },
  { text: 'Written.', usage: { inputTokens: 1200, outputTokens: 30, cacheReadInputTokens: 800 } },
];

test('a model call over budget is refused: the API never sees it, the tool never runs, the developer catches BudgetExceededError', async () => {
  const session = 'cc-over-budget';
  // The session has already spent nearly all of its cap.
  getArden().logTokenUsage({
    model: 'claude-sonnet-4-5',
    promptTokens: limitTokens - 1000,
    completionTokens: 0,
    sessionId: session,
  });
  await flush();
  const target = join(work, 'never.txt');
  const fake = await startFakeAnthropic({ script: writeScript(target) });
  try {
    const failure = await runAgent(fake.url, { sessionId: session }).catch((error) => error);
    expect(BudgetExceededError.isInstance(failure)).toBe(true);
    expect(failure).toMatchObject({
      model: 'claude-sonnet-4-5',
      budget: { name: 'Run cap', limitTokens },
      spent: { tokens: limitTokens - 1000 },
    });
    expect(fake.agentRequests()).toHaveLength(0);
    expect(existsSync(target)).toBe(false);
  } finally {
    await fake.close();
  }
  const budget = await standing(session);
  expect(budget).toMatchObject({ spent_tokens: limitTokens - 1000, reserved_tokens: 0 });
});

test('each streamed model call is reserved, then settled with its final usage (spend visible in Arden)', async () => {
  const session = 'cc-settled';
  const target = join(work, 'notes.txt');
  const fake = await startFakeAnthropic({ script: writeScript(target) });
  let result: any;
  try {
    ({ result } = await runAgent(fake.url, { sessionId: session }));
    // Every call reached the API through the proxy, streamed (the CLI asks for SSE).
    expect(fake.agentRequests().length).toBeGreaterThanOrEqual(2);
    expect(fake.agentRequests().every((request) => request.body.stream === true)).toBe(true);
  } finally {
    await fake.close();
  }
  expect(result?.is_error).toBe(false);
  expect(existsSync(target)).toBe(true);
  await flush();
  const usage = await arden.usage({ sessionId: session });
  // One usage event per model call, with the final counts of its stream (message_delta's
  // output tokens, message_start's input and cache reads).
  const counts = usage.map((event) => [event.promptTokens, event.completionTokens]);
  expect(counts).toContainEqual([1000, 50]);
  expect(counts).toContainEqual([2000, 30]);
  const recorded = usage.reduce(
    (sum, event) => sum + event.promptTokens + event.completionTokens,
    0,
  );
  const budget = await standing(session);
  // Settled: nothing held, and the spend is the calls' real usage (not the reservations).
  expect(budget).toMatchObject({ reserved_tokens: 0, spent_tokens: recorded });
});

test('a model call the API fails has its reservation given back', async () => {
  const session = 'cc-upstream-error';
  // An API that refuses every message (a 400 the CLI does not retry).
  let calls = 0;
  const failing: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if ((request.url ?? '').startsWith('/v1/messages')) calls++;
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          type: 'error',
          error: { type: 'invalid_request_error', message: 'upstream says no' },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = failing.address() as AddressInfo;
    // The SDK throws the API's error (the run ends with an error result).
    const failure = await runAgent(`http://127.0.0.1:${port}`, { sessionId: session }).catch(
      (error) => error,
    );
    expect(String(failure)).toContain('upstream says no');
    expect(calls).toBeGreaterThan(0);
  } finally {
    failing.closeAllConnections();
    await new Promise<void>((resolve) => failing.close(() => resolve()));
  }
  const budget = await standing(session);
  expect(budget).toMatchObject({ reserved_tokens: 0, spent_tokens: 0 });
});

test('Arden unreachable: the model call is not sent and the query throws (fail closed)', async () => {
  const fake = await startFakeAnthropic({ script: [{ text: 'hi' }] });
  configureArden({ apiUrl: 'http://127.0.0.1:9' });
  try {
    const failure = await runAgent(fake.url, { sessionId: 'cc-unreachable' }).catch(
      (error) => error,
    );
    expect(ArdenUnavailableError.isInstance(failure)).toBe(true);
    expect(fake.agentRequests()).toHaveLength(0);
    expect(fake.requests.filter((r) => r.path.startsWith('/v1/messages?'))).toHaveLength(0);
  } finally {
    await fake.close();
  }
});

test('modelCalls: false leaves the model calls alone (usage from the result message)', async () => {
  const session = 'cc-unchecked';
  const fake = await startFakeAnthropic({ script: writeScript(join(work, 'x.txt')) });
  try {
    await runAgent(fake.url, { sessionId: session, modelCalls: false });
  } finally {
    await fake.close();
  }
  await flush();
  const usage = await arden.usage({ sessionId: session });
  expect(usage).toHaveLength(1);
  expect(usage[0]).toMatchObject({ promptTokens: 3000, completionTokens: 80 });
});
