// Shared by window.cjs and window.mjs (issue #12, item 4): runs an agent of the given SDK copy
// whose blocked tool is called, and prints what ran and what Arden was asked.
const { z } = require('zod');
const model = require('./model.cjs');

async function runWindow({ sdk, arden }) {
  const ran = [];
  const agent = new sdk.Agent({
    name: 'window',
    model: model.scriptedToolModel({
      calls: [{ tool: 'delete_account', args: { customerId: 'c1' } }],
    }),
    tools: [
      sdk.tool({
        name: 'delete_account',
        description: 'Delete an account.',
        parameters: z.object({ customerId: z.string() }),
        execute: async () => {
          ran.push('delete_account');
          return 'deleted';
        },
      }),
    ],
  });
  const { finalOutput } = await sdk.run(agent, 'go');
  console.log(
    JSON.stringify({
      ran,
      checks: arden.checks.map((check) => [check.toolName, check.decision]),
      finalOutput,
    }),
  );
}

module.exports = { runWindow };
