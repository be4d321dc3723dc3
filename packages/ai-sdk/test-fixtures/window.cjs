// Issue #12, item 4: a CommonJS app that configures Arden and then loads `ai` with import() and
// runs at once — intercepted from the first call (the SDK reads its telemetry integrations from
// globalThis at each call).
const core = require('@arden/core');
const testing = require('@arden/core/test');
require('@arden/ai-sdk');
const { z } = require('zod');
const { runScenario } = require('./scenario.cjs');

core.configure(testing.createTestArden().options());
(async () => {
  const [ai, aiTest] = await Promise.all([import('ai'), import('ai/test')]);
  await runScenario({ core, testing, ai, aiTest, z });
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
