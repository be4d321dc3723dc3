import type { LanguageModel, ModelMessage, Tool, ToolSet } from 'ai';

// The reader's own things in the AI SDK snippets: a model, tools, a prompt and messages.
declare global {
  const model: LanguageModel;
  const tools: ToolSet;
  const search: Tool<{ query: string }, string>;
  const issue_refund: Tool<{ amount: number }, string>;
  const prompt: string;
  const messages: ModelMessage[];
}
