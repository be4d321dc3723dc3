import type {
  ChatCompletionMessage,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';

// The reader's own things in the OpenAI snippets: their CRM and payment clients, the tool
// definitions sent to the model, the conversation so far.
declare global {
  const crm: { find(email: string): Promise<unknown> };
  const stripe: { refund(customerId: string, amount: number): Promise<unknown> };
  function refund(args: { customerId: string; amount: number }): Promise<unknown>;
  const tools: ChatCompletionTool[];
  const messages: ChatCompletionMessageParam[];
  const message: ChatCompletionMessage;
}
