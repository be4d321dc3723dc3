// An ES module app whose static imports load a second install of @langchain/core (not the one
// @arden/langchain resolves) in the same module graph as the adapter: run with
// `node --import @arden/langchain static.mjs`, so that the module watch starts before the
// graph is loaded. Prints what window-scenario.cjs prints.
import { createRequire } from 'node:module';
import { configure } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import '@arden/langchain';
import * as tools from 'langchain-core-oldest/tools';

const require = createRequire(import.meta.url);
const { runWindow } = require('./window-scenario.cjs');
const arden = createTestArden({ decisions: { drop_table: 'block' } });
configure(arden.options());
await runWindow({ tools, delay: 'now', arden });
