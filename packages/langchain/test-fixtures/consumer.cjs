// A CommonJS app: the CJS builds of @arden/core, @arden/langchain and @langchain/core.
const core = require('@arden/core');
const testing = require('@arden/core/test');
require('@arden/langchain');
const tools = require('@langchain/core/tools');
const messages = require('@langchain/core/messages');
const { fakeModel } = require('@langchain/core/testing');
const { z } = require('zod');
const { runScenario } = require('./scenario.cjs');

runScenario({ core, testing, tools, messages, fakeModel, z }).catch((error) => {
  console.error(error);
  process.exit(1);
});
