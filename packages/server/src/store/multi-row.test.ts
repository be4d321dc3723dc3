import { afterEach, describe, expect, test } from 'vitest';
import { uuidv7 } from '../ids';
import { createLogger } from '../logger';
import { action, agent, closeStores, freshStore } from '../test-fixtures/store';
import type { Database, RunResult, Statement } from './database';
import { GroupCommitter } from './group-commit';
import { type MultiRow, planBatch, unnestInsert, unnestUpdate } from './multi-row';

afterEach(closeStores);

const report = { status: 'succeeded' as const, durationMs: 12.5, error: null, result: { ok: 1 } };

describe('group commits as multi-row statements', () => {
  test('checks, outcome reports and usage written together get what each would alone', async () => {
    const store = await freshStore();
    const owner = await agent(store);
    const now = Date.now();
    // 40 checks in one turn: one commit (one multi-row INSERT on PostgreSQL).
    const actions = Array.from({ length: 40 }, (_, index) =>
      action(owner.id, {
        id: uuidv7(now + index),
        toolName: `tool.${index}`,
        args: [index, 'a"b'],
        decision: index % 4 === 0 ? 'block' : 'allow',
        createdAt: now + index,
      }),
    );
    const inserted = await Promise.all(
      actions.map((row) => store.committer.submit(store.actions.insertStatement(row))),
    );
    expect(inserted.every((result) => result.changes === 1)).toBe(true);
    const seqs = await store.database.all<{ id: string; seq: number }>(
      'SELECT id, seq FROM actions',
    );
    const seqOf = new Map(seqs.map((row) => [row.id, Number(row.seq)]));
    // Each answer carries its own row's sequence number.
    expect(inserted.map((result) => result.lastInsertId)).toEqual(
      actions.map((row) => seqOf.get(row.id)),
    );
    expect((await store.actions.get(actions[1]?.id as string))?.args).toEqual([1, 'a"b']);

    // Outcome reports in one turn: the blocked ones change nothing, one action reported twice
    // takes both in order (the second wins), a report from another agent changes nothing.
    const reports = actions.map((row, index) =>
      store.actions.reportResultStatement(
        row.id,
        owner.id,
        'live',
        { ...report, durationMs: index },
        now,
      ),
    );
    reports.push(
      store.actions.reportResultStatement(
        actions[1]?.id as string,
        owner.id,
        'live',
        { ...report, status: 'failed', error: 'second' },
        now,
      ),
      store.actions.reportResultStatement(actions[2]?.id as string, uuidv7(), 'live', report, now),
    );
    const outcomes = await Promise.all(
      reports.map((statement) => store.committer.submit(statement)),
    );
    expect(outcomes.map((outcome) => outcome.changes)).toEqual([
      ...actions.map((row) => (row.decision === 'block' ? 0 : 1)),
      1,
      0,
    ]);
    const twice = await store.actions.get(actions[1]?.id as string);
    expect(twice).toMatchObject({
      resultStatus: 'failed',
      resultError: 'second',
      durationMs: 12.5,
    });
    expect(await store.actions.get(actions[3]?.id as string)).toMatchObject({
      resultStatus: 'succeeded',
      durationMs: 3,
      result: { ok: 1 },
    });
    expect((await store.actions.get(actions[0]?.id as string))?.resultStatus).toBeNull();

    // Usage of many requests in one turn, all on the same daily total: summed once.
    const writes = Array.from({ length: 25 }, (_, index) =>
      store.usageCommitter.submitAll(
        store.usage.writeStatements([
          {
            id: uuidv7(),
            agentId: owner.id,
            environment: 'live',
            sessionId: index % 2 ? 's1' : null,
            model: 'gpt-4o',
            promptTokens: 10,
            completionTokens: 2,
            costUsd: 0.5,
            rateFound: index % 5 !== 0,
            createdAt: now,
          },
          {
            id: uuidv7(),
            agentId: owner.id,
            environment: 'live',
            sessionId: null,
            model: 'other',
            promptTokens: 1,
            completionTokens: 1,
            costUsd: 0,
            rateFound: false,
            createdAt: now,
          },
        ]),
      ),
    );
    await Promise.all(writes);
    const totals = await store.usage.totals();
    expect(totals).toMatchObject({ events: 50, promptTokens: 275, completionTokens: 75 });
    expect(totals.costUsd).toBeCloseTo(12.5);
    expect(totals).toEqual(await store.usage.totalsRaw());
    const daily = await store.database.all<{ model: string; events: number; unpriced: number }>(
      'SELECT model, events, unpriced FROM usage_daily ORDER BY model',
    );
    expect(daily.map((row) => [row.model, Number(row.events), Number(row.unpriced)])).toEqual([
      ['gpt-4o', 25, 5],
      ['other', 25, 25],
    ]);
  });

  test('text and numbers come back exactly as written, whichever form a commit takes', async () => {
    const store = await freshStore();
    const owner = await agent(store);
    const now = Date.now();
    const texts = [
      'plain',
      'quote " backslash \\ slash /',
      'escapes written as text: \\u0000 \\ud800 \\n',
      'control \u0001 \t \n \r \u001f and DEL \u007f',
      'é 漢字 😀 \u2028 \u2029 \uFEFF',
      '{"json":"in \\"text\\"","n":1e400}',
      '',
    ];
    const rows = texts.map((text, index) =>
      action(owner.id, {
        id: uuidv7(now + index),
        toolName: `tool.${index}`,
        sessionId: text,
        kwargsJson: JSON.stringify({ text }),
        argsJson: '[1.5e-7, -0.0, 123456789012345]',
        durationMs: index === 1 ? 0.1 + 0.2 : null,
        expiresAt: index === 2 ? 8_640_000_000_000 : null,
        createdAt: now + index,
      }),
    );
    // All of them go as JSON (one parameter for the commit).
    const statements = rows.map((row) => store.actions.insertStatement(row));
    expect(
      statements[0]?.rows?.build(statements.map((statement) => statement.params ?? [])).name,
    ).toBe('arden_rows_actions_insert');
    const results = await Promise.all(
      statements.map((statement) => store.committer.submit(statement)),
    );
    expect(results.every((result) => result.changes === 1)).toBe(true);
    // A lone surrogate: its commit goes as arrays (UTF-8 writes it as U+FFFD), and commits.
    const lone = action(owner.id, {
      id: uuidv7(now + 99),
      toolName: 'tool.lone',
      sessionId: '\ud800',
    });
    const loneStatement = store.actions.insertStatement(lone);
    expect(loneStatement.rows?.build([loneStatement.params ?? []]).name).toBe(
      'arden_rows_actions_insert_arrays',
    );
    expect((await store.committer.submit(loneStatement)).changes).toBe(1);
    for (const [index, row] of rows.entries()) {
      const stored = await store.database.get<Record<string, unknown>>(
        'SELECT session_id, kwargs, args, duration_ms, expires_at FROM actions WHERE id = ?',
        [row.id],
      );
      expect(stored?.session_id).toBe(texts[index]);
      expect(stored?.kwargs).toBe(row.kwargsJson);
      expect(stored?.args).toBe('[1.5e-7, -0.0, 123456789012345]');
      expect(stored?.duration_ms === null ? null : Number(stored?.duration_ms)).toBe(
        row.durationMs,
      );
      expect(stored?.expires_at === null ? null : Number(stored?.expires_at)).toBe(row.expiresAt);
    }
    expect((await store.actions.get(lone.id))?.toolName).toBe('tool.lone');
  });

  test('a bad row fails only its own request: the rest commit', async () => {
    const store = await freshStore();
    const owner = await agent(store);
    const good = Array.from({ length: 5 }, () => action(owner.id));
    // An agent that does not exist: the foreign key refuses the row.
    const bad = action(uuidv7());
    const results = await Promise.allSettled(
      [...good.slice(0, 2), bad, ...good.slice(2)].map((row) =>
        store.committer.submit(store.actions.insertStatement(row)),
      ),
    );
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect(await store.actions.count()).toBe(5);
    expect(await store.actions.get(bad.id)).toBeUndefined();
  });
});

describe('planBatch', () => {
  const inserts = unnestInsert({ key: 'a', table: 't', columns: [['id', 'text']] });
  const updates = unnestUpdate({
    key: 'b',
    table: 't',
    columns: [
      ['v', 'text'],
      ['id', 'text'],
    ],
    set: ['v'],
    match: ['id'],
    keyColumn: 1,
  });
  const insert = (id: string): Statement => ({ sql: 'i', params: [id], rows: inserts });
  const update = (id: string): Statement => ({ sql: 'u', params: ['x', id], rows: updates });

  test('merges neighbours of one kind, keeps order, and splits where an UPDATE target repeats', () => {
    const plain: Statement = { sql: 'SELECT 1' };
    const steps = planBatch([
      insert('1'),
      insert('2'),
      update('1'),
      update('2'),
      update('1'),
      plain,
      insert('3'),
    ]);
    expect(
      steps.map((step) => (step.kind === 'one' ? ['one', step.index] : ['merged', step.indexes])),
    ).toEqual([
      ['merged', [0, 1]],
      ['merged', [2, 3]],
      ['merged', [4]],
      ['one', 5],
      ['merged', [6]],
    ]);
    expect(planBatch([insert('1'), insert('2'), insert('3')], 2)).toHaveLength(2);
  });

  test('the merged statements have a fixed text, one JSON parameter for all rows', () => {
    expect(inserts.build([['1'], ['2"\\u']])).toEqual({
      name: 'arden_rows_a',
      text: 'INSERT INTO t (id) SELECT id FROM json_to_recordset($1::json) AS v(id text)',
      values: ['[{"id":"1"},{"id":"2\\"\\\\u"}]'],
    });
    expect(updates.build([['x', '1']]).text).toBe(
      'UPDATE t AS t SET v = v.v FROM json_to_recordset($1::json) AS v(v text, id text) WHERE t.id = v.id RETURNING t.id AS key',
    );
    expect(
      updates.results(
        [{ key: '2' }],
        [
          ['x', '1'],
          ['x', '2'],
        ],
      ),
    ).toEqual([{ changes: 0 }, { changes: 1 }]);
  });

  test('rows JSON cannot carry exactly go as one array per column', () => {
    const arrays = {
      name: 'arden_rows_a_arrays',
      text: 'INSERT INTO t (id) SELECT id FROM unnest($1::text[]) AS v(id)',
    };
    // A NUL (replaced, as PostgreSQL text cannot hold it), a lone surrogate, a number JSON
    // cannot write.
    expect(inserts.build([['1'], ['2\u0000']])).toEqual({ ...arrays, values: [['1', '2\uFFFD']] });
    expect(inserts.build([['1'], ['\ud800']])).toEqual({ ...arrays, values: [['1', '\ud800']] });
    expect(inserts.build([[Number.NaN]])).toEqual({ ...arrays, values: [[Number.NaN]] });
    // The same characters escaped in the text itself are plain text: JSON.
    expect(inserts.build([['\\u0000 \\ud800 \\\\']]).name).toBe('arden_rows_a');
  });
});

describe('GroupCommitter with commits in flight at once', () => {
  test('a later commit that finishes first is still answered after the earlier one', async () => {
    const finishes: (() => void)[] = [];
    const calls: string[][] = [];
    const database = {
      commitConcurrency: 2,
      batch(statements: readonly Statement[]): Promise<RunResult[]> {
        calls.push(statements.map((statement) => statement.sql));
        return new Promise((resolve) =>
          finishes.push(() => resolve(statements.map(() => ({ changes: 1 })))),
        );
      },
    } as unknown as Database;
    const committer = new GroupCommitter(database, createLogger('silent'));
    const answered: string[] = [];
    const first = committer.submit({ sql: 'first' }).then(() => answered.push('first'));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // The first commit is in flight; the second starts without waiting for it.
    const second = committer.submit({ sql: 'second' }).then(() => answered.push('second'));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([['first'], ['second']]);
    // A third waits for a free connection.
    const third = committer.submit({ sql: 'third' }).then(() => answered.push('third'));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toHaveLength(2);
    finishes[1]?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
    // The second is durable but not answered before the first.
    expect(answered).toEqual([]);
    expect(calls).toEqual([['first'], ['second'], ['third']]);
    finishes[0]?.();
    await Promise.all([first, second]);
    expect(answered).toEqual(['first', 'second']);
    finishes[2]?.();
    await third;
    await committer.drain();
    expect(answered).toEqual(['first', 'second', 'third']);
  });
});

describe('GroupCommitter ordering a batch', () => {
  const kinds = (key: string) => unnestInsert({ key, table: key, columns: [['id', 'text']] });
  const actions = kinds('a');
  const guarded = kinds('g');
  const receipts = kinds('r');
  const step = (sql: string, rows?: MultiRow, lockKey?: string): Statement => ({
    sql,
    params: [sql],
    ...(rows ? { rows } : {}),
    ...(lockKey ? { lockKey } : {}),
  });

  /** The order `batch` ran the requests' statements in, and what each request got back. */
  async function commit(dialect: 'sqlite' | 'postgres' | undefined, requests: Statement[][]) {
    const ran: string[] = [];
    const database = {
      dialect,
      async batch(statements: readonly Statement[]): Promise<RunResult[]> {
        ran.push(...statements.map((statement) => statement.sql));
        return statements.map((statement) => ({
          changes: 1,
          lastInsertId: ran.indexOf(statement.sql),
        }));
      },
    } as unknown as Database;
    const committer = new GroupCommitter(database, createLogger('silent'));
    const answers = await Promise.all(requests.map((request) => committer.submitAll(request)));
    return { ran, answers };
  }

  const requests = () => [
    [step('A1', actions), step('R1', receipts)],
    // A check with a statement that merges with nothing between its action and its receipt.
    [step('A2', actions), step('S2'), step('R2', receipts), step('U2', undefined, 'k2')],
    // Another kind of action INSERT (a guarded one).
    [step('G3', guarded), step('R3', receipts)],
    [step('X4')],
    [step('A5', actions), step('R5', receipts), step('U5', undefined, 'k1')],
  ];

  test('on PostgreSQL, statements of one kind from different requests side by side, each request in its order', async () => {
    const { ran, answers } = await commit('postgres', requests());
    expect(ran).toEqual(['X4', 'A1', 'A2', 'A5', 'S2', 'G3', 'R1', 'R2', 'R5', 'R3', 'U5', 'U2']);
    // One merged statement a kind (actions, guarded actions, receipts), the others alone.
    const steps = planBatch(
      requests()
        .flat()
        .sort((a, b) => ran.indexOf(a.sql) - ran.indexOf(b.sql)),
    );
    expect(steps.map((step) => (step.kind === 'one' ? step.statement.sql : step.rows.key))).toEqual(
      ['X4', 'a', 'S2', 'g', 'r', 'U5', 'U2'],
    );
    // Each request gets its own statements' results, in its order.
    expect(
      answers.map((results) => results.map((result) => ran[result.lastInsertId as number])),
    ).toEqual(requests().map((request) => request.map((statement) => statement.sql)));
  });

  test('on the embedded store, request after request, as before', async () => {
    const { ran } = await commit('sqlite', requests());
    expect(ran).toEqual(['X4', 'A1', 'R1', 'A2', 'S2', 'R2', 'A5', 'R5', 'G3', 'R3', 'U5', 'U2']);
  });
});
