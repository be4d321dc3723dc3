// The example's agent: three tools, and a model — the real one when OPENAI_API_KEY is set,
// else a scripted stand-in that calls the tools in `calls`.
import { Agent, setTracingDisabled, tool } from '@openai/agents';
import { z } from 'zod';
import { type ScriptedCall, scriptedModel } from './scripted-model.ts';

// Without a key there is nowhere to send the SDK's traces.
if (!process.env.OPENAI_API_KEY) setTracingDisabled(true);

export const tools = [
  tool({
    name: 'lookup_customer',
    description: 'Find a customer by email address.',
    parameters: z.object({ email: z.string() }),
    execute: async ({ email }) => `customer cus_123 (${email}), plan: pro`,
  }),
  tool({
    name: 'delete_account',
    description: 'Delete a customer account and all its data.',
    parameters: z.object({ customerId: z.string() }),
    execute: async ({ customerId }) => `deleted ${customerId}`,
  }),
  tool({
    name: 'issue_refund',
    description: 'Refund a customer, in US dollars.',
    parameters: z.object({ customerId: z.string(), amount: z.number() }),
    execute: async ({ customerId, amount }) => `refunded $${amount} to ${customerId}`,
  }),
];

export function makeAgent(calls: ScriptedCall[]): Agent {
  return new Agent({
    name: 'support',
    instructions:
      'You are a support agent. Use the tools to do what the user asks, one step at a time. If a tool says it did not run, tell the user why.',
    model: process.env.OPENAI_API_KEY ? 'gpt-4o-mini' : scriptedModel(calls),
    tools,
  });
}

export const refundCalls: ScriptedCall[] = [
  { tool: 'lookup_customer', args: { email: 'ada@example.com' } },
  { tool: 'issue_refund', args: { customerId: 'cus_123', amount: 150 } },
];
