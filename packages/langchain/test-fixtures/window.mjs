// The ES module counterpart of window.cjs: same arguments, same output.
import { createRequire } from 'node:module';
import { configure } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import '@arden/langchain';

const require = createRequire(import.meta.url);
const { runWindow } = require('./window-scenario.cjs');
const [format = 'esm', delay = 'now', copy = '@langchain/core'] = process.argv.slice(2);
const arden = createTestArden({ decisions: { drop_table: 'block' } });
configure(arden.options());
const tools = format === 'cjs' ? require(`${copy}/tools`) : await import(`${copy}/tools`);
await runWindow({ tools, delay, arden });
