// The checking is shared with the server's Streamable HTTP gateway, so it lives in @arden/core.
export {
  type CheckMcpToolCallOptions,
  type CheckOutcome,
  checkMcpToolCall,
  type DeniedToolResult,
  deniedToolResult,
  type EditedMcpCall,
  type McpToolAnnotations,
  type McpToolCall,
  mcpCheckMetadata,
  pickAnnotations,
  type WaitHooks,
} from '@arden/core';
