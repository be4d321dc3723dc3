// Shared by the consumer fixtures: runs one allowed and one blocked tool call and one model
// call against an in-memory Arden, with the given module copies, and prints what Arden saw.
async function runScenario({ core, testing, tools, messages, fakeModel, z }) {
  const arden = testing.createTestArden({ decisions: { drop_table: 'block' } });
  core.configure(arden.options());
  const ran = [];
  const search = tools.tool(
    async ({ query }) => {
      ran.push('search');
      return `found ${query}`;
    },
    { name: 'search', description: 'Search.', schema: z.object({ query: z.string() }) },
  );
  const dropTable = tools.tool(
    async () => {
      ran.push('drop_table');
      return 'dropped';
    },
    { name: 'drop_table', description: 'Drop.', schema: z.object({ table: z.string() }) },
  );
  const allowed = await search.invoke({
    name: 'search',
    args: { query: 'x' },
    id: 'c1',
    type: 'tool_call',
  });
  const blocked = await dropTable.invoke({
    name: 'drop_table',
    args: { table: 't' },
    id: 'c2',
    type: 'tool_call',
  });
  const model = fakeModel().respond(
    new messages.AIMessage({
      content: 'hi',
      usage_metadata: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
      response_metadata: { model_name: 'fixture-model' },
    }),
  );
  await model.invoke('hello');
  await core.flush();
  process.stdout.write(
    JSON.stringify({
      ran,
      checks: arden.checks.map((check) => [check.toolName, check.decision]),
      allowed: { status: allowed.status, content: allowed.content },
      blocked: { status: blocked.status, content: blocked.content },
      usage: arden.usage.map((event) => [
        event.model,
        event.prompt_tokens,
        event.completion_tokens,
      ]),
    }),
  );
}

module.exports = { runScenario };
