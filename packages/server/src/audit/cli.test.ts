import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CliIo } from '../cli/io';
import { run } from '../cli/main';
import { dropTestDatabase, startTestServer, type TestServer } from '../test-fixtures/harness';

// `arden receipts verify` and `arden audit verify` work offline: the first from a receipt and a
// saved key set, the second on the database itself (SQLite and PostgreSQL), where a row changed
// by hand is reported and the exit code says so.

async function arden(argv: string[], cwd: string) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {},
    cwd,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

let t: TestServer;
let dataDir: string;
let databaseUrl: string | undefined;
let receipt: string;
let target: string;
const kwargs = '{"amount": 40, "card": {"last4": "4242"}}';

beforeAll(async () => {
  t = await startTestServer(
    { receipts: { secret: 'cli-test-secret-0123456789' }, workers: false },
    { keepData: true, listen: false },
  );
  ({ dataDir, databaseUrl } = t);
  for (const amount of [1, 2]) {
    await t.request('POST', '/policy/check', {
      raw: `{"tool_name": "payments.refund", "kwargs": {"amount": ${amount}}}`,
    });
  }
  const answer = await t.request('POST', '/policy/check', {
    raw: `{"tool_name": "payments.refund", "kwargs": ${kwargs}}`,
  });
  ({ receipt, action_id: target } = answer.json as { receipt: string; action_id: string });
  await t.server.audit.seal({ checkpoint: true });
  const keys = await t.request('GET', '/.well-known/arden-keys.json', { key: null });
  writeFileSync(join(dataDir, 'keys.json'), keys.text);
  writeFileSync(join(dataDir, 'receipt.jws'), receipt);
  writeFileSync(join(dataDir, 'kwargs.json'), kwargs);
  const checkpoints = await t.server.audit.checkpoints();
  writeFileSync(
    join(dataDir, 'checkpoints.txt'),
    checkpoints.map((checkpoint) => checkpoint.checkpoint).join('\n'),
  );
  await t.server.close();
});

afterAll(async () => {
  await dropTestDatabase(databaseUrl);
  rmSync(dataDir, { recursive: true, force: true });
});

const where = () => (databaseUrl ? ['--db', databaseUrl] : ['--data-dir', dataDir]);

describe('arden receipts verify', () => {
  test('accepts the receipt for its exact call and refuses another', async () => {
    const ok = await arden(
      [
        'receipts',
        'verify',
        '@receipt.jws',
        '--keys',
        'keys.json',
        '--tool',
        'payments.refund',
        '--kwargs',
        '@kwargs.json',
        '--require-runs',
      ],
      dataDir,
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^valid: allow of payments\.refund .*covers this exact call/);
    const other = await arden(
      [
        'receipts',
        'verify',
        receipt,
        '--keys',
        'keys.json',
        '--tool',
        'payments.refund',
        '--kwargs',
        '{"amount": 4000, "card": {"last4": "4242"}}',
      ],
      dataDir,
    );
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^invalid \(call_mismatch\)/);
    const tampered = `${receipt.slice(0, -4)}AAAA`;
    const forged = await arden(
      ['receipts', 'verify', tampered, '--keys', 'keys.json', '--json'],
      dataDir,
    );
    expect(forged.code).toBe(1);
    expect(JSON.parse(forged.stdout)).toMatchObject({ valid: false, code: 'bad_signature' });
  });
});

describe('arden audit verify', () => {
  test('passes on an untouched database and fails on a row changed by hand', async () => {
    const clean = await arden(
      ['audit', 'verify', ...where(), '--keys', 'keys.json', '--checkpoints', 'checkpoints.txt'],
      dataDir,
    );
    expect(clean.stdout).toMatch(/^ok: 1 chain\(s\), 3 entries, \d+ checkpoint\(s\) checked\n$/);
    expect(clean.code).toBe(0);
    // Change the stored arguments by hand, as someone with database access could.
    const reopened = await startTestServer(
      { dataDir, databaseUrl, receipts: { secret: 'cli-test-secret-0123456789' }, workers: false },
      { keepData: true, listen: false },
    );
    await reopened.server.store.database.run('UPDATE actions SET kwargs = ? WHERE id = ?', [
      '{"amount": 4000, "card": {"last4": "4242"}}',
      target,
    ]);
    await reopened.server.close();
    const tampered = await arden(['audit', 'verify', ...where(), '--keys', 'keys.json'], dataDir);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/^FAILED: 1 chain\(s\), 3 entries/);
    expect(tampered.stdout).toContain(`action_altered agent ${t.agent.id} live entry 3`);
  });
});
