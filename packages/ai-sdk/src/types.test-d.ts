import {
  generateText,
  type LanguageModelMiddleware,
  streamText,
  tool,
  wrapLanguageModel,
} from 'ai';
import { expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import {
  ardenToolApproval,
  ardenUsageMiddleware,
  guardTools,
  recordLanguageModelUsage,
} from './index';
import { generatingModel } from './test-helpers';

const tools = {
  search: tool({
    description: 'Search.',
    inputSchema: z.object({ query: z.string() }),
    execute: async ({ query }) => ({ hits: [query] }),
  }),
};

test('guardTools keeps the tool set’s type', () => {
  expectTypeOf(guardTools(tools)).toEqualTypeOf<typeof tools>();
});

test('the native route, the usage middleware and callback fit the SDK', () => {
  expectTypeOf(ardenUsageMiddleware()).toMatchTypeOf<LanguageModelMiddleware>();
  const model = wrapLanguageModel({ model: generatingModel(), middleware: ardenUsageMiddleware() });
  void generateText({
    model,
    tools: guardTools(tools),
    prompt: 'hi',
    toolApproval: ardenToolApproval(),
    onLanguageModelCallEnd: recordLanguageModelUsage(),
  });
  void streamText({ model, tools, prompt: 'hi', toolApproval: ardenToolApproval() });
});
