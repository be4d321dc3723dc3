// An ES module app in which a CommonJS library loads the CJS builds of this adapter and of
// @openai/agents (whose classes differ from the ESM build's): both copies must be intercepted.
import { createRequire } from 'node:module';
import { configure, flush } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import '@arden/openai-agents';
import * as esm from '@openai/agents';
import { z } from 'zod';
import model from './model.cjs';

const require = createRequire(import.meta.url);
require('@arden/openai-agents');
const cjs = require('@openai/agents');

const arden = createTestArden({ decisions: { delete_account: 'block' } });
configure(arden.options());

const ran = [];
const outputs = {};
for (const [format, sdk] of [
  ['esm', esm],
  ['cjs', cjs],
]) {
  const agent = new sdk.Agent({
    name: `support-${format}`,
    model: model.scriptedToolModel({
      calls: [{ tool: 'delete_account', args: { customerId: format } }],
    }),
    tools: [
      sdk.tool({
        name: 'delete_account',
        description: 'Delete an account.',
        parameters: z.object({ customerId: z.string() }),
        execute: async () => {
          ran.push(format);
          return 'deleted';
        },
      }),
    ],
  });
  outputs[format] = (await sdk.run(agent, 'go')).finalOutput;
}
await flush();
process.stdout.write(
  JSON.stringify({
    distinctClasses: esm.Agent !== cjs.Agent,
    ran,
    outputs,
    checks: arden.checks.map((check) => check.kwargs.customerId),
  }),
);
