import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { BaseMessage } from '@langchain/core/messages';
import type { StructuredToolInterface } from '@langchain/core/tools';
import type { createAgent } from 'langchain';

// The reader's own things in the LangChain snippets: a chat model, tools, messages, a thread.
declare global {
  const model: BaseChatModel;
  const tools: StructuredToolInterface[];
  const searchTool: StructuredToolInterface;
  const refundTool: StructuredToolInterface;
  const messages: BaseMessage[];
  const conversationId: string;
  const agent: ReturnType<typeof createAgent>;
  function notify(text: string): void;
}
