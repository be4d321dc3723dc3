// Child-process tests against the built package (run `pnpm build` first; turbo does): an ES
// module and a CommonJS consumer each run a tool loop against the fake OpenAI API.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from './test-helpers';

const execute = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
let fake: FakeOpenAI;

beforeAll(async () => {
  for (const file of ['dist/index.js', 'dist/index.cjs']) {
    if (!existsSync(join(packageDir, file))) {
      throw new Error(`${file} is missing: run "pnpm --filter @arden/openai build" first.`);
    }
  }
  fake = await startFakeOpenAI({
    toolCalls: [
      { name: 'lookup_customer', args: { email: 'a@b.c' } },
      { name: 'delete_account', args: { customerId: 'cus_1' } },
    ],
    usage: { prompt: 80, completion: 16 },
  });
});

afterAll(async () => {
  await fake.close();
});

describe.each([
  ['ESM', 'consumer.mjs', 'esm'],
  ['CJS', 'consumer.cjs', 'cjs'],
])('%s consumer of the build', (_label, script, format) => {
  it('checks every call, tells the model of the denial, and records usage (plain and streamed)', async () => {
    const { stdout } = await execute(
      process.execPath,
      [join(packageDir, 'test-fixtures', script)],
      {
        cwd: packageDir,
        env: { ...process.env, FAKE_OPENAI_URL: fake.baseURL },
        timeout: 60_000,
      },
    );
    const output = JSON.parse(stdout);
    expect(output.format).toBe(format);
    expect(output.ran).toEqual(['lookup_customer']);
    expect(output.answer).toContain('delete_account=Arden blocked this call to "delete_account"');
    expect(output.checks).toEqual([
      { toolName: 'lookup_customer', decision: 'allow', sessionId: `${format}-session` },
      { toolName: 'delete_account', decision: 'block', sessionId: `${format}-session` },
    ]);
    expect(output.usage).toHaveLength(3);
    for (const event of output.usage) {
      expect(event).toMatchObject({
        model: 'gpt-4o-mini-2024-07-18',
        prompt_tokens: 80,
        completion_tokens: 16,
        session_id: `${format}-session`,
      });
    }
  });
});
