// An ES module consumer: imports the ESM builds of @arden/core, this adapter and @openai/agents,
// and prints what Arden saw of a run (tools made before and after configure(), a blocked call,
// usage of a plain and a streamed run, the session).
import { configure, flush, withSession } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import '@arden/openai-agents';
import { Agent, run, tool } from '@openai/agents';
import { z } from 'zod';
import model from './model.cjs';

const { scriptedToolModel } = model;

const ran = [];
const lookupCustomer = tool({
  name: 'lookup_customer',
  description: 'Find a customer by email.',
  parameters: z.object({ email: z.string() }),
  execute: async () => {
    ran.push('lookup_customer');
    return 'customer cus_1';
  },
});

const arden = createTestArden({ decisions: { delete_account: 'block' } });
configure(arden.options());

const deleteAccount = tool({
  name: 'delete_account',
  description: 'Delete an account.',
  parameters: z.object({ customerId: z.string() }),
  execute: async () => {
    ran.push('delete_account');
    return 'deleted';
  },
});

const makeAgent = () =>
  new Agent({
    name: 'support',
    model: scriptedToolModel({
      name: 'gpt-4o-mini',
      calls: [
        { tool: 'lookup_customer', args: { email: 'a@b.c' } },
        { tool: 'delete_account', args: { customerId: 'cus_1' } },
      ],
    }),
    tools: [lookupCustomer, deleteAccount],
  });

await withSession('esm-session', async () => {
  const result = await run(makeAgent(), 'go');
  const stream = await run(makeAgent(), 'go', { stream: true });
  for await (const _event of stream) {
    // drain
  }
  await stream.completed;
  await flush();
  process.stdout.write(
    JSON.stringify({
      format: 'esm',
      ran,
      finalOutput: result.finalOutput,
      checks: arden.checks.map((check) => ({
        toolName: check.toolName,
        decision: check.decision,
        sessionId: check.sessionId,
      })),
      usage: arden.usage,
    }),
  );
});
