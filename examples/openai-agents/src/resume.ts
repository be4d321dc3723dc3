// The second process of the native approval route: it restores the run state the first process
// saved, applies Arden's decision (waiting for an approver if need be) and finishes the run.
//   node src/resume.ts <state-file>      (with ARDEN_API_URL and ARDEN_API_KEY set)
import { readFileSync } from 'node:fs';
import { configure, flush } from '@arden/core';
import { install, resolveInterruptions } from '@arden/openai-agents';
import { RunState, run } from '@openai/agents';
import { makeAgent, refundCalls } from './agent.ts';

const stateFile = process.argv[2];
if (!stateFile) throw new Error('Usage: node src/resume.ts <state-file>');

configure();
install({ approval: 'native' });
const agent = makeAgent(refundCalls);
const state = await RunState.fromString(agent, readFileSync(stateFile, 'utf8'));
console.log('[second process] waiting for the approver…');
const { approved, rejected } = await resolveInterruptions(state, { wait: true });
console.log(`[second process] ${approved.length} approved, ${rejected.length} rejected in Arden`);
const result = await run(agent, state);
console.log(`[second process] ${result.finalOutput}`);
await flush();
