// The interception window (issue #12, item 4): a CommonJS app configures Arden, then loads a
// copy of @langchain/core and calls a blocked tool at once, or after `delay` ms.
// Usage: node window.cjs <esm|cjs> <now|delay ms> [package]. `package` is the copy to load:
// `@langchain/core` (the adapter's own) or `langchain-core-oldest` (a second install, 1.0.0).
// Prints what ran and what Arden was asked.
const core = require('@arden/core');
const testing = require('@arden/core/test');
require('@arden/langchain');
const { runWindow } = require('./window-scenario.cjs');

const [format = 'esm', delay = 'now', copy = '@langchain/core'] = process.argv.slice(2);
const arden = testing.createTestArden({ decisions: { drop_table: 'block' } });
core.configure(arden.options());

(async () => {
  const tools = format === 'cjs' ? require(`${copy}/tools`) : await import(`${copy}/tools`);
  await runWindow({ tools, delay, arden });
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
