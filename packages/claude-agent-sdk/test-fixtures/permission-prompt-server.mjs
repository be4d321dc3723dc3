// A minimal MCP server over stdio with one tool, `approve`, for `claude -p
// --permission-prompt-tool mcp__prompt__approve`: it plays the developer at Claude Code's
// permission prompt. When asked, it writes the request to PROMPT_ASKED_FILE, waits until
// PROMPT_GO_FILE exists (the test decides in Arden meanwhile, as an approver would while the
// prompt is open), then approves the call as the model made it.
import { existsSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

createInterface({ input: process.stdin }).on('line', async (line) => {
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
        serverInfo: { name: 'prompt', version: '1.0.0' },
      },
    });
  } else if (request.method === 'tools/list') {
    send({
      jsonrpc: '2.0',
      id: request.id,
      result: {
        tools: [
          {
            name: 'approve',
            description: 'Answers Claude Code permission prompts',
            inputSchema: {
              type: 'object',
              properties: {
                tool_name: { type: 'string' },
                input: { type: 'object' },
                tool_use_id: { type: 'string' },
              },
              required: ['tool_name', 'input'],
            },
          },
        ],
      },
    });
  } else if (request.method === 'tools/call') {
    const args = request.params?.arguments ?? {};
    writeFileSync(process.env.PROMPT_ASKED_FILE, JSON.stringify(args));
    for (let waited = 0; !existsSync(process.env.PROMPT_GO_FILE) && waited < 60_000; waited += 50) {
      await sleep(50);
    }
    send({
      jsonrpc: '2.0',
      id: request.id,
      result: {
        content: [
          { type: 'text', text: JSON.stringify({ behavior: 'allow', updatedInput: args.input }) },
        ],
      },
    });
  } else {
    send({ jsonrpc: '2.0', id: request.id, result: {} });
  }
});
