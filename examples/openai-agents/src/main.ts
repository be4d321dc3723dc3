// An OpenAI Agents SDK agent whose tools Arden checks. No LLM key is needed.
//
// Against a running server (load policies.yaml into it first):
//   ARDEN_API_KEY=arden_test_… ARDEN_API_URL=http://localhost:8787 pnpm start
// Without one, it uses the in-memory Arden from @arden/core/test and plays the approver itself.
// With OPENAI_API_KEY set, a real model (gpt-4o-mini) drives the agent instead of the script.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configure, flush, withSession } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import { install, interruptionAction, resolveInterruptions } from '@arden/openai-agents';
import { RunState, run } from '@openai/agents';
import { makeAgent, refundCalls } from './agent.ts';

const inMemory = process.env.ARDEN_API_KEY
  ? undefined
  : createTestArden({
      decisions: { delete_account: 'block', issue_refund: 'requires_approval' },
    });
// Importing @arden/openai-agents registered the adapter: configure() now checks every function
// tool of every agent and records every model call's usage.
configure(inMemory ? inMemory.options() : {});

/** Plays the human approver of the in-memory Arden; with a real server, you do it. */
function approveNextHeldCall() {
  if (!inMemory) {
    console.log(
      '  … held: approve it in the Arden dashboard (Approvals) or with `arden approvals approve`',
    );
    return;
  }
  void inMemory.nextPending().then((held) => {
    console.log(`  [approver] approving ${held.toolName} ${JSON.stringify(held.kwargs)}`);
    inMemory.approve(held.actionId, 'approved by the example');
  });
}

await withSession(`openai-agents-demo-${Date.now()}`, async () => {
  console.log('1. Wait mode: an allowed call runs, a blocked one does not, a held one waits.');
  approveNextHeldCall();
  const result = await run(
    makeAgent([
      { tool: 'lookup_customer', args: { email: 'ada@example.com' } },
      { tool: 'delete_account', args: { customerId: 'cus_123' } },
      { tool: 'issue_refund', args: { customerId: 'cus_123', amount: 150 } },
    ]),
    'Look up ada@example.com, delete her account, and refund her $150.',
  );
  console.log(`  ${result.finalOutput}`);
  const usage = result.state.usage;
  console.log(
    `  usage: ${usage.requests} model calls, ${usage.inputTokens} in / ${usage.outputTokens} out (recorded in Arden)`,
  );

  console.log('\n2. Native route: the held call becomes an SDK interruption; the run stops.');
  install({ approval: 'native' });
  const agent = makeAgent(refundCalls);
  const first = await run(agent, 'Refund ada@example.com $150.');
  for (const item of first.interruptions) {
    const action = interruptionAction(item);
    console.log(
      `  interruption: ${item.name} ${item.arguments} → Arden action ${action?.actionId}`,
    );
  }
  const saved = first.state.toString();

  if (!inMemory) {
    // A second process picks the run up from the saved state, as a queue worker would.
    const file = join(mkdtempSync(join(tmpdir(), 'arden-example-')), 'state.json');
    writeFileSync(file, saved);
    console.log('  approve it in the Arden dashboard; the second process resumes once you do.');
    execFileSync(process.execPath, [join(import.meta.dirname, 'resume.ts'), file], {
      stdio: 'inherit',
    });
    return;
  }
  approveNextHeldCall();
  // Another process could do this part: restore the state, apply Arden's decision, resume.
  const state = await RunState.fromString(agent, saved);
  const { approved } = await resolveInterruptions(state, { wait: true });
  console.log(`  ${approved.length} interruption approved in Arden; resuming.`);
  const second = await run(agent, state);
  console.log(`  ${second.finalOutput}`);
});

if (inMemory) {
  await flush();
  console.log(
    `\nArden logged ${inMemory.checks.length} checks and ${inMemory.usage.length} model calls:`,
  );
  for (const check of inMemory.checks) {
    console.log(`  ${check.decision.padEnd(17)} ${check.toolName} (session ${check.sessionId})`);
  }
  for (const event of inMemory.usage) {
    console.log(`  ${event.model}: ${event.prompt_tokens} in / ${event.completion_tokens} out`);
  }
}
await flush();
