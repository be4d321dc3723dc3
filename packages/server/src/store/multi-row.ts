import type { Row, RunResult, SqlValue, Statement } from './database';

/** A PostgreSQL column type, of a column of the rows a multi-row statement reads. */
export type ColumnType = 'text' | 'bigint' | 'integer' | 'double precision';

/** One statement for many rows: its text (with `$n` placeholders) and one array per column. */
export interface MergedStatement {
  /** The prepared statement's name: the same text every time, parsed once per connection. */
  name: string;
  text: string;
  values: unknown[];
}

/**
 * How statements of one kind merge into one multi-row statement, for the group commit on
 * PostgreSQL: instead of a round trip per row, one `INSERT … SELECT FROM json_to_recordset(…)`
 * (or `UPDATE … FROM json_to_recordset(…)`) per kind, with the rows as one JSON parameter (or,
 * for rows JSON cannot carry exactly, `unnest` of one array parameter per column) — a fixed text,
 * prepared once per connection. Statements carrying the same `MultiRow` (the same `key`) that
 * follow each other in a batch merge; their results are the same as run one by one. The
 * embedded store ignores it (its statements cost no round trip).
 */
export interface MultiRow {
  /** Names the kind; statements merge only with statements of the same key. */
  readonly key: string;
  /**
   * For statements whose effect depends on the ones before (two UPDATEs of one row): a value
   * that must not repeat within one merged statement. A repeat starts the next one, in order.
   */
  distinct?(params: readonly SqlValue[]): string;
  /** The merged statement for these rows (each one statement's parameters). */
  build(rows: readonly (readonly SqlValue[])[]): MergedStatement;
  /** What each row's statement changed, from the rows the merged statement returned. */
  results(returned: readonly Row[], rows: readonly (readonly SqlValue[])[]): RunResult[];
}

// PostgreSQL text cannot hold NUL (see `bind` in postgres.ts): stored text is validated before,
// a NUL in a lookup value can match nothing.
function column(rows: readonly (readonly SqlValue[])[], index: number): unknown[] {
  return rows.map((row) => {
    const value = row[index] ?? null;
    return typeof value === 'string' && value.includes('\u0000')
      ? value.replaceAll('\u0000', '\uFFFD')
      : value;
  });
}

function unnest(columns: readonly (readonly [string, ColumnType])[], alias: string): string {
  return `unnest(${columns.map(([, type], index) => `$${index + 1}::${type}[]`).join(', ')}) AS ${alias}(${columns.map(([name]) => name).join(', ')})`;
}

function recordset(columns: readonly (readonly [string, ColumnType])[], alias: string): string {
  return `json_to_recordset($1::json) AS ${alias}(${columns.map(([name, type]) => `${name} ${type}`).join(', ')})`;
}

/**
 * The rows as one JSON array of objects, for `json_to_recordset`: one parameter that V8
 * serialises natively, instead of one array per column that `pg` escapes value by value
 * (measured: 2.3–3.5 against 6–8 µs of the server's CPU per `actions` row of 25 columns, the
 * same backend CPU within the noise). Undefined when the text would not say exactly what the
 * arrays say: a number JSON cannot hold (NaN, ±Infinity), bytes, a NUL (which the arrays
 * replace) or a lone surrogate (which UTF-8 replaces, and PostgreSQL's JSON refuses) — those
 * rows go as arrays.
 */
function recordsetJson(
  keys: readonly string[],
  rows: readonly (readonly SqlValue[])[],
): string | undefined {
  let text = '[';
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index] as readonly SqlValue[];
    text += index === 0 ? '' : ',';
    for (let position = 0; position < keys.length; position++) {
      const value = row[position] ?? null;
      let json: string;
      if (value === null) json = 'null';
      else if (typeof value === 'string') json = JSON.stringify(value);
      else if (typeof value === 'number') {
        if (!Number.isFinite(value)) return undefined;
        json = String(value);
      } else if (typeof value === 'bigint') json = `"${value}"`;
      else return undefined;
      text += keys[position] + json;
    }
    text += '}';
  }
  text += ']';
  // JSON.stringify writes a NUL as \u0000 and a lone surrogate as \ud800–\udfff: an escape not
  // itself escaped (after an even number of backslashes).
  return text.includes('\\u') && unfit.test(text) ? undefined : text;
}

const unfit = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/;

/** `{"name":` for the first column, `,"name":` for the others. */
function jsonKeys(columns: readonly (readonly [string, ColumnType])[]): string[] {
  return columns.map(([name], index) => `${index === 0 ? '{' : ','}${JSON.stringify(name)}:`);
}

const extendedKinds = new WeakMap<MultiRow, Map<string, MultiRow>>();

/**
 * A kind that extends `inner`: each of its rows is a row of `inner` with `extra` (≥ 1) more
 * parameters at its end. `extend` gets `inner`'s merged statement for the rows without them, and
 * those parameters of each row (`tails`), and returns the merged statement's text and values; its
 * name is `inner`'s with `_<suffix>`. Made once per inner kind and suffix, so that the statements
 * of one extended kind merge with each other.
 */
export function extendedKind(
  inner: MultiRow,
  suffix: string,
  extra: number,
  extend: (
    merged: MergedStatement,
    tails: readonly (readonly SqlValue[])[],
  ) => Omit<MergedStatement, 'name'>,
): MultiRow {
  let kinds = extendedKinds.get(inner);
  if (kinds === undefined) {
    kinds = new Map();
    extendedKinds.set(inner, kinds);
  }
  const known = kinds.get(suffix);
  if (known !== undefined) return known;
  const own = (row: readonly SqlValue[]) => row.slice(0, -extra);
  const kind: MultiRow = {
    key: `${inner.key}_${suffix}`,
    build(rows) {
      const merged = inner.build(rows.map(own));
      const extended = extend(
        merged,
        rows.map((row) => row.slice(-extra)),
      );
      return { name: `${merged.name}_${suffix}`, ...extended };
    },
    results: (returned, rows) => inner.results(returned, rows.map(own)),
  };
  kinds.set(suffix, kind);
  return kind;
}

/**
 * `INSERT INTO table (columns) SELECT … FROM json_to_recordset(…)`: the rows of many single-row
 * INSERTs (whose parameters are `columns`, in order) in one statement. With `returning`, each row's
 * `lastInsertId` is the `returning.column` of the row whose `returning.keyColumn` (a unique
 * column, by its index in `columns`) it inserted. `suffix` follows the SELECT (an ON CONFLICT
 * clause); `combine` may merge rows first (rows for the same key of an upsert: one statement
 * cannot update a row twice) — each statement's result is then one change.
 */
export function unnestInsert(spec: {
  key: string;
  table: string;
  columns: readonly (readonly [string, ColumnType])[];
  returning?: { column: string; keyColumn: number };
  suffix?: string;
  combine?: (rows: readonly (readonly SqlValue[])[]) => (readonly SqlValue[])[];
}): MultiRow {
  const names = spec.columns.map(([name]) => name).join(', ');
  const keyName = spec.returning ? (spec.columns[spec.returning.keyColumn]?.[0] as string) : '';
  const tail = `${spec.suffix ? ` ${spec.suffix}` : ''}${spec.returning ? ` RETURNING ${keyName} AS key, ${spec.returning.column} AS value` : ''}`;
  const text = `INSERT INTO ${spec.table} (${names}) SELECT ${names} FROM ${recordset(spec.columns, 'v')}${tail}`;
  const arraysText = `INSERT INTO ${spec.table} (${names}) SELECT ${names} FROM ${unnest(spec.columns, 'v')}${tail}`;
  const keys = jsonKeys(spec.columns);
  const name = `arden_rows_${spec.key}`;
  return {
    key: spec.key,
    build(rows) {
      const merged = spec.combine ? spec.combine(rows) : rows;
      const json = recordsetJson(keys, merged);
      return json === undefined
        ? {
            name: `${name}_arrays`,
            text: arraysText,
            values: spec.columns.map((_, index) => column(merged, index)),
          }
        : { name, text, values: [json] };
    },
    results(returned, rows) {
      const returning = spec.returning;
      if (!returning) return rows.map(() => ({ changes: 1 }));
      const values = new Map(returned.map((row) => [String(row.key), row.value]));
      return rows.map((row) => {
        const value = values.get(String(row[returning.keyColumn]));
        return value === undefined
          ? { changes: 0 }
          : { changes: 1, lastInsertId: typeof value === 'number' ? value : undefined };
      });
    },
  };
}

/**
 * `UPDATE table AS t SET … FROM json_to_recordset(…) AS v WHERE t.match = v.match … AND where`:
 * many single-row UPDATEs (whose parameters are `columns`, in order: the `set` ones and the `match`
 * ones) in one statement. `keyColumn` (the index in `columns` of a unique column among `match`)
 * tells which rows changed; a key that repeats starts the next merged statement, so each
 * UPDATE sees the ones before it, as run one by one. `where` may name the table's other columns
 * unqualified (they must not be among `columns`).
 */
export function unnestUpdate(spec: {
  key: string;
  table: string;
  columns: readonly (readonly [string, ColumnType])[];
  set: readonly string[];
  match: readonly string[];
  keyColumn: number;
  where?: string;
}): MultiRow {
  const keyName = spec.columns[spec.keyColumn]?.[0] as string;
  const update = (from: string) =>
    `UPDATE ${spec.table} AS t SET ${spec.set.map((name) => `${name} = v.${name}`).join(', ')} FROM ${from} WHERE ${spec.match.map((name) => `t.${name} = v.${name}`).join(' AND ')}${spec.where ? ` AND ${spec.where}` : ''} RETURNING t.${keyName} AS key`;
  const text = update(recordset(spec.columns, 'v'));
  const arraysText = update(unnest(spec.columns, 'v'));
  const keys = jsonKeys(spec.columns);
  const name = `arden_rows_${spec.key}`;
  return {
    key: spec.key,
    distinct: (params) => String(params[spec.keyColumn]),
    build(rows) {
      const json = recordsetJson(keys, rows);
      return json === undefined
        ? {
            name: `${name}_arrays`,
            text: arraysText,
            values: spec.columns.map((_, index) => column(rows, index)),
          }
        : { name, text, values: [json] };
    },
    results(returned, rows) {
      const changed = new Set(returned.map((row) => String(row.key)));
      return rows.map((row) => ({ changes: changed.has(String(row[spec.keyColumn])) ? 1 : 0 }));
    },
  };
}

/** A run of statements of a batch: one alone, or several of one kind merged. */
export type BatchStep =
  | { kind: 'one'; index: number; statement: Statement }
  | { kind: 'merged'; indexes: number[]; rows: MultiRow; params: (readonly SqlValue[])[] };

/**
 * Splits a batch into steps, in order: statements of one `MultiRow` kind that follow each other
 * merge (up to `maxRows`, and never two with the same `distinct` value), the others stay alone.
 */
export function planBatch(statements: readonly Statement[], maxRows = 5_000): BatchStep[] {
  const steps: BatchStep[] = [];
  let current: Extract<BatchStep, { kind: 'merged' }> | undefined;
  let seen = new Set<string>();
  for (const [index, statement] of statements.entries()) {
    const rows = statement.rows;
    if (!rows) {
      current = undefined;
      steps.push({ kind: 'one', index, statement });
      continue;
    }
    const params = statement.params ?? [];
    const distinct = rows.distinct?.(params);
    if (
      !current ||
      current.rows.key !== rows.key ||
      current.indexes.length >= maxRows ||
      (distinct !== undefined && seen.has(distinct))
    ) {
      current = { kind: 'merged', indexes: [], rows, params: [] };
      seen = new Set();
      steps.push(current);
    }
    current.indexes.push(index);
    current.params.push(params);
    if (distinct !== undefined) seen.add(distinct);
  }
  return steps;
}
