// A minimal MCP server over stdio (JSON-RPC, one message per line) with one tool,
// delete_file, that appends to the file named by MCP_CALLS_FILE when it is called.
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return;
  }
  if (request.id === undefined) return; // a notification
  if (request.method === 'initialize') {
    send({
      jsonrpc: '2.0',
      id: request.id,
      result: {
        protocolVersion: request.params?.protocolVersion ?? '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'files', version: '1.0.0' },
      },
    });
  } else if (request.method === 'tools/list') {
    send({
      jsonrpc: '2.0',
      id: request.id,
      result: {
        tools: [
          {
            name: 'delete_file',
            description: 'Delete a file',
            inputSchema: {
              type: 'object',
              properties: { path: { type: 'string' } },
              required: ['path'],
            },
          },
          {
            name: 'list_files',
            description: 'List files',
            inputSchema: { type: 'object', properties: {} },
          },
        ],
      },
    });
  } else if (request.method === 'tools/call') {
    appendFileSync(process.env.MCP_CALLS_FILE, `${request.params.name}\n`);
    send({
      jsonrpc: '2.0',
      id: request.id,
      result: { content: [{ type: 'text', text: `${request.params.name} done` }] },
    });
  } else {
    send({ jsonrpc: '2.0', id: request.id, result: {} });
  }
});
