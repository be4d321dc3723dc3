/**
 * `@arden/claude-agent-sdk`: Arden for the Claude Agent SDK (`@anthropic-ai/claude-agent-sdk`).
 *
 * ```ts
 * import { query } from '@anthropic-ai/claude-agent-sdk';
 * import { configure } from '@arden/core';
 * import { queryWithArden } from '@arden/claude-agent-sdk';
 *
 * configure(); // ARDEN_API_KEY, ARDEN_API_URL
 * for await (const message of queryWithArden(query, { prompt: 'Fix the failing test' })) {
 *   // every tool call was checked by Arden; the result's usage is recorded in the session
 * }
 * ```
 */
export { defaultDenialMessage, type ToolDenial } from '@arden/core';
export {
  checkToolCall,
  type Verdict,
  type WithArdenOptions,
  type WithArdenResult,
  withArden,
} from './guard';
export { builtInToolPrefix, claudeToolName } from './names';
export {
  type ModelTokens,
  type QueryWithArdenOptions,
  queryWithArden,
  recordResultUsage,
  resultUsage,
} from './usage';
