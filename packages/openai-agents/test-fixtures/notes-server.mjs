// A real MCP server (the official SDK, over stdio) for the adapter's MCP tests. Every call that
// reaches it is appended to the file named by NOTES_LOG, so a test can tell what ran.
import { appendFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const log = (line) => {
  if (process.env.NOTES_LOG) appendFileSync(process.env.NOTES_LOG, `${line}\n`);
};
const server = new McpServer({ name: process.env.NOTES_NAME ?? 'notes', version: '1.0.0' });
server.registerTool(
  'read_note',
  {
    description: 'Read a note',
    inputSchema: { id: z.string() },
    annotations: { readOnlyHint: true },
  },
  async ({ id }) => {
    log(`read_note ${id}`);
    return { content: [{ type: 'text', text: `note ${id}: buy milk` }] };
  },
);
server.registerTool(
  'delete_note',
  {
    description: 'Delete a note',
    inputSchema: { id: z.string() },
    annotations: { destructiveHint: true },
  },
  async ({ id }) => {
    log(`delete_note ${id}`);
    return { content: [{ type: 'text', text: `deleted ${id}` }] };
  },
);
await server.connect(new StdioServerTransport());
