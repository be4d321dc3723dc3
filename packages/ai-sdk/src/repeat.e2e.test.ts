import { configure, flush, uninstallAdapters, withSession } from '@arden/core';
import { startTestServer, type TestServer } from '@arden/server/testing';
import { generateText, isStepCount } from 'ai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { guardTools } from './index';
import { generatingModel, makeTools } from './test-helpers';

// Denied calls stay denied (issue #17): a model that retries a refused call in a loop gets
// "already refused, do not retry" at once; the tool never runs and nobody is asked again.
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    policies: [
      {
        name: 'Small refunds only',
        tool: 'refund',
        rules: [{ if: 'args.amount > 100', then: 'block' }],
        default: 'allow',
      },
    ],
  });
  configure({ apiKey: t.key, apiUrl: t.url, logLevel: 'silent', retryAttempts: 0 });
}, 30_000);

afterAll(async () => {
  await flush();
  uninstallAdapters();
  await t.close();
});

describe('a model that retries a refused call', () => {
  test('is told at once that the call was already refused; the tool never runs', async () => {
    const { ran, tools } = makeTools();
    const model = generatingModel(
      { calls: [{ name: 'refund', input: { amount: 500 }, id: 'r1' }] },
      { calls: [{ name: 'refund', input: { amount: 500 }, id: 'r2' }] },
      { calls: [{ name: 'refund', input: { amount: 500 }, id: 'r3' }] },
      { text: 'I cannot refund 500.' },
    );
    const result = await withSession('retry-loop', () =>
      generateText({
        model,
        tools: guardTools(tools),
        prompt: 'refund 500',
        stopWhen: isStepCount(4),
      }),
    );
    expect(ran).toEqual([]);
    expect(result.text).toBe('I cannot refund 500.');
    // guardTools hands the model the refusal as the tool's result.
    const errors = result.steps.map((step) => {
      const part = step.content.find((part) => part.type === 'tool-result');
      return part === undefined ? undefined : String(part.output);
    });
    expect(errors[0]).toMatch(/Arden blocked this call to "refund" by policy/);
    expect(errors[0]).not.toMatch(/already refused/);
    for (const message of [errors[1], errors[2]]) {
      expect(message).toMatch(/was already refused in this session with these same arguments/);
      expect(message).toMatch(/Do not retry this call/);
    }

    const actions = (await t.actions()).filter((action) => action.sessionId === 'retry-loop');
    expect(actions.map((action) => [action.decision, action.reason])).toEqual([
      ['block', 'rule_matched'],
      ['block', 'repeat_refused'],
      ['block', 'repeat_refused'],
    ]);
    expect(actions[1]?.repeatOf).toBe(actions[0]?.id);
    expect(actions[2]?.repeatOf).toBe(actions[0]?.id);
  });
});
