// An ES module app: the ESM builds of everything.
import * as core from '@arden/core';
import * as testing from '@arden/core/test';
import '@arden/langchain';
import * as messages from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import * as tools from '@langchain/core/tools';
import { z } from 'zod';
import scenario from './scenario.cjs';

await scenario.runScenario({ core, testing, tools, messages, fakeModel, z });
