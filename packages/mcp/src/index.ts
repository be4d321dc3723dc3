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
} from './checker';
export { type McpCliIo, runMcpCli } from './cli';
export { type GuardMcpClientOptions, guardMcpClient, type McpToolClient } from './client';
export { McpGateway, type McpGatewayOptions } from './gateway';
