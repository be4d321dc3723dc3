/**
 * `@arden/openai`: Arden for OpenAI Chat Completions loops (the `openai` package).
 *
 * - `ArdenToolExecutor` runs the tool calls of an assistant turn, each checked by Arden first.
 * - `trackUsage(client)` records the token usage of every call of an `OpenAI` client, checked
 *   against the agent's budgets before it is sent;
 *   `recordUsage(response)` records one response's.
 *
 * Importing this module has no side effects.
 */
export { defaultDenialMessage, type ToolDenial } from '@arden/core';
export {
  ArdenToolExecutor,
  type ArdenToolExecutorOptions,
  type RegisterOptions,
  type ToolCallLike,
  type ToolMessage,
} from './executor';
export { recordUsage, type TrackUsageOptions, trackUsage, type UsageOptions } from './usage';
