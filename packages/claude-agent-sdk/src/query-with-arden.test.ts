// queryWithArden's Query before and after the SDK's query starts (no agent binary): the SDK's
// query is called once the proxy route is open, with the route as the child's
// ANTHROPIC_BASE_URL and the rest of the environment as given; its methods wait for it.
import type { query as sdkQuery } from '@anthropic-ai/claude-agent-sdk';
import { configure } from '@arden/core';
import { expect, test } from 'vitest';
import { queryWithArden } from './index';

test('the SDK query starts with the proxy route as ANTHROPIC_BASE_URL; methods and iteration wait for it', async () => {
  configure({
    apiKey: `arden_test_${'a'.repeat(32)}`,
    apiUrl: 'http://127.0.0.1:9',
    logLevel: 'silent',
  });
  const started: any[] = [];
  const messages = [{ type: 'system', session_id: 's-1' }];
  const fake = ((params: any) => {
    started.push(params);
    let index = 0;
    return {
      next: async () =>
        index < messages.length
          ? { done: false, value: messages[index++] }
          : { done: true, value: undefined },
      return: async () => ({ done: true, value: undefined }),
      throw: async (error: unknown) => {
        throw error;
      },
      close: () => undefined,
      supportedModels: async () => ['claude-sonnet-4-5'],
    };
  }) as unknown as typeof sdkQuery;
  const run = queryWithArden(fake, {
    prompt: 'hi',
    options: { env: { PATH: '/bin', ANTHROPIC_BASE_URL: 'https://gateway.example/anthropic' } },
  });
  // Not a thenable: awaiting it answers the query itself, at once.
  expect(await run).toBe(run);
  expect(await run.supportedModels()).toEqual(['claude-sonnet-4-5']);
  expect(started).toHaveLength(1);
  const env = started[0].options.env;
  expect(env.PATH).toBe('/bin');
  expect(env.ANTHROPIC_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/arden\/[0-9a-f]{32}$/);
  // The hooks of withArden are there too.
  expect(started[0].options.hooks.PreToolUse).toHaveLength(1);
  const seen = [];
  for await (const message of run) seen.push(message);
  expect(seen).toEqual(messages);
});
