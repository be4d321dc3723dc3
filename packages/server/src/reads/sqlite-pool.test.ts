import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logger';
import { SqliteReadPool } from './sqlite-pool';

// The reader threads give way to the event loop that answers checks: they run at the lowest
// scheduling priority (nice 19), so a looping report takes only the cycles no one else wants.

let dir: string;
let path: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'arden-read-pool-'));
  path = join(dir, 'arden.db');
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);');
  db.close();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Nice value of every thread of this process, by thread id (Linux /proc). */
function threadNices(): Map<number, number> {
  const nices = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      nices.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return nices;
}

async function newThreadNices(lowPriority: boolean): Promise<number[]> {
  const before = threadNices();
  const pool = new SqliteReadPool(path, createLogger('silent'), 1, lowPriority);
  try {
    const rows = await pool.queryable(Date.now() + 10_000).all('SELECT x FROM t');
    expect(rows).toEqual([{ x: 1 }]);
    return [...threadNices()].filter(([tid]) => !before.has(tid)).map(([, nice]) => nice);
  } finally {
    await pool.close();
  }
}

describe('SQLite read pool', () => {
  it('runs its reader threads at nice 19, leaving the main thread as it was', async () => {
    const main = threadNices().get(process.pid);
    // The comparison means something only if this process is not already at the lowest.
    expect(main).toBeLessThan(19);
    const low = await newThreadNices(true);
    expect(low).toContain(19);
    expect(threadNices().get(process.pid)).toBe(main);
    // The control: without it, the reader thread runs at the process's priority.
    const normal = await newThreadNices(false);
    expect(normal.length).toBeGreaterThan(0);
    expect(normal).not.toContain(19);
  });
});
