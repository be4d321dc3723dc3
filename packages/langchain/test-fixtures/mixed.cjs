// A CommonJS app that requires the CJS build of the adapter and imports the ESM build of
// @langchain/core dynamically: the adapter patches it too, before it can be used.
const core = require('@arden/core');
const testing = require('@arden/core/test');
require('@arden/langchain');
const { z } = require('zod');
const { runScenario } = require('./scenario.cjs');

(async () => {
  const tools = await import('@langchain/core/tools');
  const messages = await import('@langchain/core/messages');
  const { fakeModel } = await import('@langchain/core/testing');
  const arden = testing.createTestArden();
  core.configure(arden.options());
  await runScenario({ core, testing, tools, messages, fakeModel, z });
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
