// The second process of the native-approval test: it restores a run state saved by another
// process, applies Arden's decision to its interruption and resumes the run.
// Reads ARDEN_API_URL and ARDEN_API_KEY, and the state from the file named by STATE_FILE.
import { readFileSync } from 'node:fs';
import { configure, flush } from '@arden/core';
import { install, resolveInterruptions } from '@arden/openai-agents';
import { Agent, RunState, run, tool } from '@openai/agents';
import { z } from 'zod';
import model from './model.cjs';

const ran = [];
configure({ logLevel: 'silent' });
install({ approval: 'native' });

const agent = new Agent({
  name: 'support',
  model: model.scriptedToolModel({
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
      execute: async ({ amount }) => {
        ran.push('issue_refund');
        return `refunded $${amount}`;
      },
    }),
  ],
});

const state = await RunState.fromString(agent, readFileSync(process.env.STATE_FILE, 'utf8'));
const resolved = await resolveInterruptions(state, { wait: 10_000 });
const result = await run(agent, state);
await flush();
process.stdout.write(
  JSON.stringify({
    ran,
    approved: resolved.approved.length,
    rejected: resolved.rejected.length,
    pending: resolved.pending.length,
    finalOutput: result.finalOutput,
  }),
);
