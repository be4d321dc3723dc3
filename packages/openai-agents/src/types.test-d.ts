import { Agent, type FunctionTool, RunState, run, tool } from '@openai/agents';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  guardAgentTools,
  protectFunctionTool,
  protectFunctionTools,
  resolveInterruptions,
  trackModelUsage,
} from './index';
import { scriptedToolModel } from './test-helpers';

const add = tool({
  name: 'add',
  description: 'Add.',
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: ({ a, b }) => a + b,
});

describe('types', () => {
  it('protecting keeps the tools’ types', () => {
    expectTypeOf(protectFunctionTool(add)).toEqualTypeOf(add);
    const tools = protectFunctionTools([add] as const);
    expectTypeOf(tools).toEqualTypeOf<readonly [typeof add]>();
    expectTypeOf(protectFunctionTool(add)).toExtend<FunctionTool<any, any, any>>();
  });

  it('guardAgentTools and trackModelUsage return what they were given', () => {
    const agent = new Agent({ name: 'a', tools: [add] });
    expectTypeOf(guardAgentTools(agent)).toEqualTypeOf(agent);
    const model = scriptedToolModel({ calls: [] });
    expectTypeOf(trackModelUsage(model)).toEqualTypeOf(model);
  });

  it('resolveInterruptions takes a result, a streamed result or a state', async () => {
    const agent = new Agent({ name: 'a', tools: [add] });
    await resolveInterruptions(await run(agent, 'x'));
    await resolveInterruptions(await run(agent, 'x', { stream: true }));
    await resolveInterruptions(await RunState.fromString(agent, '{}'));
  });
});
