// A CommonJS app that configures Arden, then loads the SDK with import() (its ESM build) or
// require (its CJS build) and runs an agent at once. Usage: node window.cjs <esm|cjs>.
const core = require('@arden/core');
const testing = require('@arden/core/test');
require('@arden/openai-agents');
const { runWindow } = require('./window-scenario.cjs');

const [format = 'esm'] = process.argv.slice(2);
const arden = testing.createTestArden({ decisions: { delete_account: 'block' } });
core.configure(arden.options());

(async () => {
  const sdk = format === 'cjs' ? require('@openai/agents') : await import('@openai/agents');
  await runWindow({ sdk, arden });
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
