// The embedded store's WAL file size under sustained checks (64 keep-alive clients on
// /policy/check against 50 policies), sampled every 10 ms: its peak, median and size at the end.
//   node --no-warnings src/wal-size.ts [durationMs]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runLoad } from './load.ts';

const durationMs = Number(process.argv[2] ?? 15_000);
const dataDir = mkdtempSync(join(tmpdir(), 'arden-wal-'));
const child = spawn(
  process.execPath,
  [
    '--no-warnings',
    fileURLToPath(new URL('./fixtures/arden-server.ts', import.meta.url)),
    dataDir,
    '50',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const info = await new Promise<{ url: string; key: string }>((resolve) =>
  createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line))),
);
const wal = join(dataDir, 'arden.db-wal');
const sizes: number[] = [];
const sampler = setInterval(
  () => sizes.push(statSync(wal, { throwIfNoEntry: false })?.size ?? 0),
  10,
);
const bodies = Array.from({ length: 100 }, (_, index) =>
  JSON.stringify({
    tool_name: 'payments0.issue_refund',
    args: [],
    kwargs: { amount: index, id: index },
    metadata: { session_id: `s-${index % 10}` },
  }),
);
const result = await runLoad({
  url: info.url,
  path: '/policy/check',
  bodies,
  headers: { 'x-api-key': info.key },
  connections: 64,
  durationMs,
});
clearInterval(sampler);
const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const sorted = [...sizes].sort((a, b) => a - b);
console.log(
  JSON.stringify({
    perSecond: Math.round(result.perSecond),
    errors: result.errors,
    peakMiB: mib(sorted.at(-1) ?? 0),
    p50MiB: mib(sorted[Math.floor(sorted.length / 2)] ?? 0),
    endMiB: mib(sizes.at(-1) ?? 0),
    samples: sizes.length,
  }),
);
child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));
rmSync(dataDir, { recursive: true, force: true });
