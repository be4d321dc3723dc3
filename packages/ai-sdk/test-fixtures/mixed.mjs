// Both builds of the adapter loaded in one process (an ESM app with a CommonJS dependency that
// requires it): tools are still checked once, usage recorded once.
import { createRequire } from 'node:module';
import * as core from '@arden/core';
import * as testing from '@arden/core/test';
import '@arden/ai-sdk';
import * as ai from 'ai';
import * as aiTest from 'ai/test';
import { z } from 'zod';
import scenario from './scenario.cjs';

createRequire(import.meta.url)('@arden/ai-sdk');
await scenario.runScenario({ core, testing, ai, aiTest, z });
