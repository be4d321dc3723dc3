// An ES module consumer of the build: a Chat Completions tool loop against the fake API at
// FAKE_OPENAI_URL, with ArdenToolExecutor and trackUsage, printing what Arden saw.
import { configure, flush, withSession } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import { ArdenToolExecutor, trackUsage } from '@arden/openai';
import OpenAI from 'openai';

const arden = createTestArden({ decisions: { delete_account: 'block' } });
configure(arden.options());

const ran = [];
const executor = new ArdenToolExecutor()
  .register('lookup_customer', ({ email }) => {
    ran.push('lookup_customer');
    return { id: 'cus_1', email };
  })
  .register('delete_account', () => {
    ran.push('delete_account');
    return 'deleted';
  });
const client = trackUsage(
  new OpenAI({ apiKey: 'sk-test', baseURL: process.env.FAKE_OPENAI_URL, maxRetries: 0 }),
  { includeStreamUsage: true },
);

async function main() {
  const messages = [{ role: 'user', content: 'help' }];
  let answer;
  for (let turn = 0; turn < 5 && answer === undefined; turn++) {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    const message = completion.choices[0].message;
    messages.push(message);
    if (message.tool_calls?.length)
      messages.push(...(await executor.toolMessages(message.tool_calls)));
    else answer = message.content;
  }
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages,
    stream: true,
  });
  for await (const _chunk of stream) {
    // drain
  }
  await flush();
  return answer;
}

const answer = await withSession('esm-session', main);
process.stdout.write(
  JSON.stringify({
    format: 'esm',
    ran,
    answer,
    checks: arden.checks.map((check) => ({
      toolName: check.toolName,
      decision: check.decision,
      sessionId: check.sessionId,
    })),
    usage: arden.usage,
  }),
);
