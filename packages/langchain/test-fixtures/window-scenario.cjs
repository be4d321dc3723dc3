// Shared by window.cjs and window.mjs: calls a blocked tool of the given copy, directly and as
// an agent's tool call, after `delay` ms ("now": in the same tick), and prints what happened.
const { z } = require('zod');

async function runWindow({ tools, delay, arden }) {
  if (delay !== 'now') await new Promise((resolve) => setTimeout(resolve, Number(delay)));
  const ran = [];
  const dropTable = tools.tool(
    async () => {
      ran.push('drop_table');
      return 'dropped';
    },
    { name: 'drop_table', description: 'Drop.', schema: z.object({ table: z.string() }) },
  );
  const direct = await dropTable.invoke({ table: 't' });
  const message = await dropTable.invoke({
    name: 'drop_table',
    args: { table: 't' },
    id: 'c1',
    type: 'tool_call',
  });
  console.log(
    JSON.stringify({
      ran,
      checks: arden.checks.map((check) => [check.toolName, check.decision]),
      direct,
      message: {
        type: message.constructor.name,
        status: message.status,
        tool_call_id: message.tool_call_id,
      },
    }),
  );
}

module.exports = { runWindow };
