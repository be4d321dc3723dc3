// The ES module counterpart of window.cjs: same argument, same output.
import { createRequire } from 'node:module';
import { configure } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import '@arden/openai-agents';

const require = createRequire(import.meta.url);
const { runWindow } = require('./window-scenario.cjs');
const [format = 'esm'] = process.argv.slice(2);
const arden = createTestArden({ decisions: { delete_account: 'block' } });
configure(arden.options());
const sdk = format === 'cjs' ? require('@openai/agents') : await import('@openai/agents');
await runWindow({ sdk, arden });
