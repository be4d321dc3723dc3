// Shared by the consumer fixtures: one allowed and one blocked tool call and the model's usage,
// against an in-memory Arden, with the given module copies; prints what Arden saw.
async function runScenario({ core, testing, ai, aiTest, z }) {
  const arden = testing.createTestArden({ decisions: { drop_table: 'block' } });
  core.configure(arden.options());
  const ran = [];
  const tools = {
    search: ai.tool({
      description: 'Search.',
      inputSchema: z.object({ query: z.string() }),
      execute: async ({ query }) => {
        ran.push('search');
        return `found ${query}`;
      },
    }),
    drop_table: ai.tool({
      description: 'Drop.',
      inputSchema: z.object({ table: z.string() }),
      execute: async () => {
        ran.push('drop_table');
        return 'dropped';
      },
    }),
  };
  const usage = {
    inputTokens: { total: 3, noCache: 3, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: 2, text: 2, reasoning: undefined },
  };
  const answers = [
    {
      content: [
        { type: 'tool-call', toolCallId: 'c1', toolName: 'search', input: '{"query":"x"}' },
        { type: 'tool-call', toolCallId: 'c2', toolName: 'drop_table', input: '{"table":"t"}' },
      ],
      finishReason: { unified: 'tool-calls', raw: undefined },
    },
    {
      content: [{ type: 'text', text: 'done' }],
      finishReason: { unified: 'stop', raw: undefined },
    },
  ];
  let index = 0;
  const model = new aiTest.MockLanguageModelV4({
    modelId: 'fixture-model',
    doGenerate: async () => ({ ...answers[index++], usage, warnings: [] }),
  });
  const result = await ai.generateText({ model, tools, prompt: 'go', stopWhen: ai.isStepCount(3) });
  await core.flush();
  const toolError = result.steps[0].content.find((part) => part.type === 'tool-error');
  process.stdout.write(
    JSON.stringify({
      ran,
      text: result.text,
      checks: arden.checks.map((check) => [check.toolName, check.decision]),
      denial: toolError ? String(toolError.error.message) : null,
      usage: arden.usage.map((event) => [
        event.model,
        event.prompt_tokens,
        event.completion_tokens,
      ]),
    }),
  );
}

module.exports = { runScenario };
