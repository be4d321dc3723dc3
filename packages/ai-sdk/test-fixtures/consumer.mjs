// An ES module app: the ESM builds of everything.
import * as core from '@arden/core';
import * as testing from '@arden/core/test';
import '@arden/ai-sdk';
import * as ai from 'ai';
import * as aiTest from 'ai/test';
import { z } from 'zod';
import scenario from './scenario.cjs';

await scenario.runScenario({ core, testing, ai, aiTest, z });
