import { configure, uninstallAdapters } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { StructuredTool } from '@langchain/core/tools';
import { expect, test } from 'vitest';

test('importing the adapter patches nothing; configure() patches; uninstall restores', async () => {
  const call = StructuredTool.prototype.call;
  const invoke = StructuredTool.prototype.invoke;
  const generate = (BaseChatModel.prototype as unknown as Record<string, unknown>)
    ._generateUncached;
  await import('./index');
  expect(StructuredTool.prototype.call).toBe(call);
  expect((BaseChatModel.prototype as unknown as Record<string, unknown>)._generateUncached).toBe(
    generate,
  );
  configure(createTestArden().options());
  expect(StructuredTool.prototype.call).not.toBe(call);
  expect(StructuredTool.prototype.invoke).toBe(invoke);
  uninstallAdapters();
  expect(StructuredTool.prototype.call).toBe(call);
  expect((BaseChatModel.prototype as unknown as Record<string, unknown>)._generateUncached).toBe(
    generate,
  );
});
