import {
  ArdenApiError,
  configure,
  createArden,
  flush,
  type Logger,
  PolicyDeniedError,
  uninstallAdapters,
} from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { generateText, isStepCount } from 'ai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { guardTools } from './index';
import { generatingModel, makeTools } from './test-helpers';

// Arden answers but refuses the check: the key was revoked. Every route denies the call with a
// PolicyDeniedError (docs/integrations/ai-sdk.md), never runs the tool, and warns.
let t: TestServer;
let revokedKey: string;
const warnings: string[] = [];
const logger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => {
    warnings.push(message);
  },
  error: () => undefined,
};

beforeAll(async () => {
  t = await startTestServer();
  const created = await t.server.agents.createKey(t.agentId, t.environment);
  await t.server.agents.revokeKey(created.record.id);
  revokedKey = created.key;
});

afterAll(async () => {
  await flush();
  uninstallAdapters();
  await t.close();
});

/** Runs one call of `refund` through `tools`; returns what the model read and what ran. */
async function callRefund(route: 'guardTools' | 'automatic', throwOnDenial = false) {
  const { ran, tools } = makeTools();
  const model = generatingModel(
    { calls: [{ name: 'refund', input: { amount: 40 }, id: 'r1' }] },
    { text: 'Could not refund.' },
  );
  const result = await generateText({
    model,
    tools: route === 'guardTools' ? guardTools(tools, { throwOnDenial }) : tools,
    prompt: 'refund 40',
    stopWhen: isStepCount(2),
  });
  const parts = result.steps.flatMap((step) => step.content);
  return { ran, parts };
}

describe('a check Arden refuses (revoked key)', () => {
  beforeAll(() => {
    configure({ apiKey: revokedKey, apiUrl: t.url, retryAttempts: 0, logger });
  });

  test('guardTools: the model reads the refusal as the tool result; the tool did not run', async () => {
    warnings.length = 0;
    const { ran, parts } = await callRefund('guardTools');
    expect(ran).toEqual([]);
    const result = parts.find((part) => part.type === 'tool-result');
    expect(result?.output).toBe(
      'Arden refused to check this call to "refund" (ArdenApiError), so the tool did not run.',
    );
    expect(warnings).toEqual(['Arden refused to check "refund"; the call is denied.']);
  });

  test('guardTools with throwOnDenial: a PolicyDeniedError whose cause is the 401', async () => {
    const { ran, parts } = await callRefund('guardTools', true);
    expect(ran).toEqual([]);
    const error = parts.find((part) => part.type === 'tool-error')?.error;
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    const denied = error as PolicyDeniedError;
    expect(denied.reason).toBe('denied');
    expect(denied.message).toMatch(/^Arden refused to check this call to "refund"/);
    expect(ArdenApiError.isInstance(denied.cause)).toBe(true);
    expect((denied.cause as ArdenApiError).statusCode).toBe(401);
    expect((denied.cause as ArdenApiError).message).not.toMatch(/\.\./);
  });

  test('the automatic route: a PolicyDeniedError too', async () => {
    const { ran, parts } = await callRefund('automatic');
    expect(ran).toEqual([]);
    const error = parts.find((part) => part.type === 'tool-error')?.error;
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/^Arden refused to check this call to "refund"/);
  });

  test("a tool's own ArdenApiError is not taken for a refusal", async () => {
    configure({ apiKey: t.key, apiUrl: t.url, retryAttempts: 0, logger });
    const { tools } = makeTools();
    const failing = guardTools({
      refund: {
        ...tools.refund,
        execute: async () => {
          throw new ArdenApiError({ statusCode: 400, path: '/elsewhere' });
        },
      },
    });
    const result = await generateText({
      model: generatingModel(
        { calls: [{ name: 'refund', input: { amount: 40 }, id: 'r2' }] },
        { text: 'done' },
      ),
      tools: failing,
      prompt: 'refund 40',
      stopWhen: isStepCount(2),
    });
    const error = result.steps
      .flatMap((step) => step.content)
      .find((part) => part.type === 'tool-error')?.error;
    expect(ArdenApiError.isInstance(error)).toBe(true);
    configure({ apiKey: revokedKey, apiUrl: t.url, retryAttempts: 0, logger });
  });
});

describe('a wrong ARDEN_API_URL', () => {
  test('a path in front of the agent API: the error says to check ARDEN_API_URL', async () => {
    const arden = createArden({
      apiKey: t.key,
      apiUrl: `${t.url}/api`,
      retryAttempts: 0,
      logLevel: 'silent',
    });
    const error = await arden
      .guardTool(
        'refund',
        async (_input: { amount: number }) => 'ran',
      )({ amount: 1 })
      .catch((caught: unknown) => caught);
    expect(ArdenApiError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /^Arden server answered 404 to \/policy\/check: No admin API route POST \/api\/policy\/check\. .* Check ARDEN_API_URL \(or the apiUrl passed to configure\(\)\)/,
    );
    expect((error as Error).message).not.toMatch(/\.\./);
    await arden.shutdown();
  });
});
