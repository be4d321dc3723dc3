import type { Agent, FunctionTool } from '@openai/agents';

// The reader's own things in the OpenAI Agents snippets: their tools, agents and input.
declare global {
  const lookupCustomer: FunctionTool;
  const deleteAccount: FunctionTool;
  const issueRefund: FunctionTool;
  const agent: Agent;
  const otherAgent: Agent;
  const saved: string;
  const input: string;
  const conversationId: string;
}
