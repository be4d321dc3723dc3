// Prints the warnings configure() logs. With `--no-hooks` the runtime is made to look like one
// without module hooks (no process.getBuiltinModule): configure() must say so.
if (process.argv.includes('--no-hooks')) delete process.getBuiltinModule;
const core = require('@arden/core');
const testing = require('@arden/core/test');
require('@arden/langchain');

const warnings = [];
core.configure({
  ...testing.createTestArden().options(),
  logger: { debug() {}, info() {}, warn: (message) => warnings.push(message), error() {} },
});
console.log(JSON.stringify(warnings));
