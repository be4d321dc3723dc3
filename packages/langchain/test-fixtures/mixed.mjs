// An ES module app that imports the ESM build of the adapter while a dependency loads the CJS
// build of @langchain/core: those classes are patched too.
import { createRequire } from 'node:module';
import * as core from '@arden/core';
import * as testing from '@arden/core/test';
import '@arden/langchain';
import { z } from 'zod';
import scenario from './scenario.cjs';

const require = createRequire(import.meta.url);
await scenario.runScenario({
  core,
  testing,
  tools: require('@langchain/core/tools'),
  messages: require('@langchain/core/messages'),
  fakeModel: require('@langchain/core/testing').fakeModel,
  z,
});
