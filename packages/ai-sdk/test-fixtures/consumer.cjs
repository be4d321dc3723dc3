// A CommonJS app: the CJS builds of @arden/core and @arden/ai-sdk; `ai` (ESM only) by require(esm).
const core = require('@arden/core');
const testing = require('@arden/core/test');
require('@arden/ai-sdk');
const ai = require('ai');
const aiTest = require('ai/test');
const { z } = require('zod');
const { runScenario } = require('./scenario.cjs');

runScenario({ core, testing, ai, aiTest, z }).catch((error) => {
  console.error(error);
  process.exit(1);
});
