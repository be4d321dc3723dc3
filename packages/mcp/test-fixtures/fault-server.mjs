// An MCP server that misbehaves on request, for the gateway's fault tests. Real SDK server over
// stdio; each tool fails in its own way.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'fault-server', version: '1.0.0' });
const text = (value) => ({ content: [{ type: 'text', text: value }] });

server.registerTool('ok', { inputSchema: { value: z.string().optional() } }, async ({ value }) =>
  text(`ok ${value ?? ''} pid ${process.pid}`),
);
server.registerTool('crash', {}, async () => {
  setTimeout(() => process.exit(3), 10);
  return new Promise(() => {});
});
server.registerTool('hang', {}, async (extra) => {
  // Says on stderr that the client's cancellation reached it (through the gateway).
  extra.signal.addEventListener('abort', () =>
    process.stderr.write(`fault-server: request ${extra.requestId} cancelled\n`),
  );
  return new Promise(() => {});
});
// Answers 1 s after it was called even if the call was cancelled meanwhile (the SDK would
// not): the answer is written by hand, as a careless server would.
server.registerTool('late', {}, async (extra) => {
  setTimeout(() => {
    const answer = { jsonrpc: '2.0', id: extra.requestId, result: text('too late') };
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }, 1_000);
  return new Promise(() => {});
});
server.registerTool('garbage', {}, async () => {
  process.stdout.write('this is not json\n{"jsonrpc":"2.0","broken\n');
  return text('after garbage');
});
server.registerTool('huge', { inputSchema: { bytes: z.number() } }, async ({ bytes }) =>
  text('x'.repeat(bytes)),
);

await server.connect(new StdioServerTransport());
