// Runs the example as a reader would (`pnpm start`: a real Arden server in its process, no LLM
// key) and checks what it prints: each refund's receipt verified offline by the payments API, and
// a replayed, re-used, forged or missing receipt refused with the reason the example shows.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const run = promisify(execFile);

test('the payments API acts only on a valid, unused receipt for exactly the request', async () => {
  const { stdout } = await run(
    process.execPath,
    ['--experimental-strip-types', '--no-warnings', 'src/main.ts'],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 60_000 },
  );
  const line = (label: string) => {
    const found = stdout.split('\n').find((entry) => entry.startsWith(label));
    expect(found, `a line starting "${label}" in:\n${stdout}`).toBeDefined();
    return (found as string).slice(label.length).replace(/^\s*→\s*/, '');
  };
  // Verified offline, then acted on: the body names the receipt's id (its jti).
  expect(line('refund 40, allowed by policy')).toMatch(
    /^200 \{"refunded":40,"order":"o-1","receipt":"[0-9a-f-]{36}"\}$/,
  );
  expect(line('the same receipt twice')).toMatch(
    /^200 409 Receipt [0-9a-f-]{36} was already used\.$/,
  );
  expect(line('a receipt for 40, sent with 4 000')).toBe('403 call_mismatch');
  expect(line('a forged receipt for 4 000')).toBe('403 bad_signature');
  expect(line('no receipt')).toBe('401 An Arden receipt (X-Arden-Receipt) is required.');
  expect(line('refund 150, approved by a human')).toMatch(
    /^200 \{"refunded":150,"order":"o-4","receipt":"[0-9a-f-]{36}"\}$/,
  );
});
