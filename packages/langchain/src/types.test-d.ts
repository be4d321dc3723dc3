import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import { expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { ardenMiddleware, protectTool, protectTools } from './index';
import { scriptedModel } from './test-helpers';

const search = tool(async ({ query }: { query: string }) => query, {
  name: 'search',
  description: 'Search.',
  schema: z.object({ query: z.string() }),
});

test('protectTools keeps the tools’ own types', () => {
  expectTypeOf(protectTools([search])).toEqualTypeOf<(typeof search)[]>();
  expectTypeOf(protectTool(search)).toEqualTypeOf<typeof search>();
  expectTypeOf(protectTool(search).invoke).toEqualTypeOf(search.invoke);
});

test('ardenMiddleware fits createAgent', () => {
  createAgent({ model: scriptedModel(), tools: [search], middleware: [ardenMiddleware()] });
  createAgent({
    model: scriptedModel(),
    tools: protectTools([search]),
    middleware: [ardenMiddleware({ approval: 'interrupt', toolNamePrefix: 'kb.' })],
  });
});
