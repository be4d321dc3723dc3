import { Duration } from '@marcbachmann/cel-js/evaluator';
import { chargeActive } from './budget';

/**
 * Replacements for the CEL library's built-in functions whose own implementation does
 * super-linear or uncharged work on what the agent sends. Each runs instead of the library's
 * handler for the same call (same name, same argument types) and charges the active budget.
 * A function not listed here was audited and found linear in its input and charged by
 * `meterTree` (see docs/policies.md, "The evaluation budget").
 */

/** Returned by an override that does not handle a call's argument types. */
export const NOT_HANDLED: unique symbol = Symbol('not handled');

/** Runs instead of the library's handler; `callInner` runs the library's handler. */
export type Override = (values: readonly unknown[], callInner: () => unknown) => unknown;

/** The error an override throws: an evaluation error, whose message quotes no argument. */
export class BuiltinError extends Error {
  override name = 'BuiltinError';
}

/** Characters in a duration string: "-2562047h47m16.854775807s" is 25. */
export const MAX_DURATION_LENGTH = 64;
/** Characters in a time zone name ("America/Argentina/ComodRivadavia" is 32) or offset. */
export const MAX_TIME_ZONE_LENGTH = 64;
/**
 * Work units a call with a time zone costs when the zone is new: making its formatter
 * (`Intl.DateTimeFormat`) takes 0.1–0.4 ms (measured on a loaded machine).
 */
export const TIME_ZONE_COST = 4000;
/** Work units a call with a time zone costs with the zone's formatter made (measured 3–11 µs). */
export const TIME_ZONE_FORMAT_COST = 200;
/** Time zones whose formatter is kept; more are made again (and charged as new). */
const MAX_TIME_ZONE_FORMATS = 64;

const NANOS_PER_UNIT: Record<string, bigint> = {
  h: 3_600_000_000_000n,
  m: 60_000_000_000n,
  s: 1_000_000_000n,
  ms: 1_000_000n,
  us: 1_000n,
  µs: 1_000n,
  ns: 1n,
};
// CEL's duration range: ±10 000 years.
const MAX_DURATION_NANOS = 315_576_000_000n * 1_000_000_000n;
// Sticky: each match must start where the previous one ended. Linear: no nested quantifiers,
// and the input is at most 64 characters.
const DURATION_TERM = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
const DURATION_HINT = `a duration is a number and a unit (h, m, s, ms, us, ns), repeated, such as '1h30m' or '-2.5s', of at most ${MAX_DURATION_LENGTH} characters`;

/**
 * `duration(string)` as CEL defines it (Go's `time.ParseDuration`: an optional sign, then one or
 * more decimal numbers each with a unit; "0" alone is zero), with an anchored parser capped at
 * `MAX_DURATION_LENGTH` characters. The library's parser backtracks (cubic in the length).
 */
export function parseDuration(text: string): Duration {
  if (text.length === 0 || text.length > MAX_DURATION_LENGTH) {
    throw new BuiltinError(`invalid duration: ${DURATION_HINT}`);
  }
  let index = 0;
  const negative = text[0] === '-';
  if (negative || text[0] === '+') index = 1;
  let total = 0n;
  if (text.slice(index) === '0') index = text.length;
  else {
    if (index === text.length) throw new BuiltinError(`invalid duration: ${DURATION_HINT}`);
    while (index < text.length) {
      DURATION_TERM.lastIndex = index;
      const match = DURATION_TERM.exec(text);
      if (match === null) throw new BuiltinError(`invalid duration: ${DURATION_HINT}`);
      index = DURATION_TERM.lastIndex;
      const [whole = '', fraction = ''] = (match[1] as string).split('.');
      const unit = NANOS_PER_UNIT[match[2] as string] as bigint;
      total += BigInt(whole || '0') * unit;
      if (fraction !== '') total += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    }
  }
  if (total > MAX_DURATION_NANOS) {
    throw new BuiltinError('invalid duration: out of range (more than 10 000 years)');
  }
  const seconds = total / 1_000_000_000n;
  const nanos = Number(total % 1_000_000_000n);
  return negative ? new Duration(-seconds, -nanos) : new Duration(seconds, nanos);
}

function charged(text: string, search: string): void {
  if (search.length <= NATIVE_LAST_INDEX_LENGTH) {
    // V8's search reads the text about once.
    chargeActive((text.length >>> 2) + (search.length >>> 3));
  } else {
    // The linear search below: a character of the text or the search string's table at 5–10 ns
    // (measured: 128 KiB of text and 64 KiB of search string in 1.3 ms).
    chargeActive((text.length >>> 1) + (search.length >>> 1));
  }
}

// Below this length V8's own lastIndexOf is fast enough (measured: 1 M characters in 14 ms);
// above it, it compares naively, in time proportional to the product of the lengths.
const NATIVE_LAST_INDEX_LENGTH = 16;

/**
 * The last index of `search` in `text` at or before `from`, in linear time: Knuth–Morris–Pratt
 * run from the end of both strings.
 */
export function lastIndexOf(text: string, search: string, from: number = text.length): number {
  const length = search.length;
  if (length <= NATIVE_LAST_INDEX_LENGTH) return text.lastIndexOf(search, from);
  const start = Math.min(from, text.length - length);
  if (start < 0) return -1;
  // The failure table of the reversed search string.
  const failure = new Int32Array(length);
  for (let index = 1, matched = 0; index < length; index++) {
    const code = search.charCodeAt(length - 1 - index);
    while (matched > 0 && code !== search.charCodeAt(length - 1 - matched)) {
      matched = failure[matched - 1] as number;
    }
    if (code === search.charCodeAt(length - 1 - matched)) matched++;
    failure[index] = matched;
  }
  // Scan the text backwards from the last place a match may end.
  let matched = 0;
  for (let position = start + length - 1; position >= 0; position--) {
    const code = text.charCodeAt(position);
    while (matched > 0 && code !== search.charCodeAt(length - 1 - matched)) {
      matched = failure[matched - 1] as number;
    }
    if (code === search.charCodeAt(length - 1 - matched)) matched++;
    if (matched === length) return position;
  }
  return -1;
}

function lastIndexOfOverride(values: readonly unknown[]): unknown {
  const [text, search, from] = values;
  if (typeof text !== 'string' || typeof search !== 'string') return NOT_HANDLED;
  if (values.length === 2) {
    charged(text, search);
    return BigInt(lastIndexOf(text, search));
  }
  if (typeof from !== 'bigint') return NOT_HANDLED;
  // The library's checks, in its order: an empty search returns the index unchecked.
  if (search === '') return from;
  const index = Number(from);
  if (index < 0 || index >= text.length) {
    throw new BuiltinError('string.lastIndexOf(search, fromIndex): fromIndex out of range');
  }
  charged(text, search);
  return BigInt(lastIndexOf(text, search, index));
}

const TIME_ZONE_FUNCTIONS = [
  'getDate',
  'getDayOfMonth',
  'getDayOfWeek',
  'getDayOfYear',
  'getFullYear',
  'getHours',
  'getMilliseconds',
  'getMinutes',
  'getMonth',
  'getSeconds',
];

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * `date` as the library's `tzDate` makes it — `new Date(date.toLocaleString('en-US', {timeZone}))`,
 * the wall time in `zone` read as local time — with the zone's formatter kept: `toLocaleString`
 * makes a new one on every call (150 µs, measured), and the output is the same (`toLocaleString`
 * is this formatter: year, month, day, hour, minute and second, numeric).
 */
function inZone(date: Date, zone: string): Date {
  let format = zoneFormats.get(zone);
  if (format === undefined) {
    chargeActive(TIME_ZONE_COST);
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    if (zoneFormats.size >= MAX_TIME_ZONE_FORMATS) zoneFormats.clear();
    zoneFormats.set(zone, format);
  } else chargeActive(TIME_ZONE_FORMAT_COST);
  return new Date(format.format(date));
}

// What each function reads of the date in the zone, as the library computes it.
const IN_ZONE: Record<string, (local: Date) => number> = {
  getDate: (local) => local.getDate(),
  getDayOfMonth: (local) => local.getDate() - 1,
  getDayOfWeek: (local) => local.getDay(),
  getDayOfYear: (local) => {
    const start = new Date(local.getFullYear(), 0, 0);
    return Math.floor((local.getTime() - start.getTime()) / 86_400_000) - 1;
  },
  getFullYear: (local) => local.getFullYear(),
  getHours: (local) => local.getHours(),
  getMinutes: (local) => local.getMinutes(),
  getMonth: (local) => local.getMonth(),
  getSeconds: (local) => local.getSeconds(),
};

/**
 * A timestamp function given a time zone: capped in length, charged, computed with the zone's
 * formatter kept (see `inZone`), and its error ("Invalid time zone specified: <zone>") without
 * the zone, which the agent may send.
 */
function timeZoneOverride(name: string): Override {
  const read = IN_ZONE[name];
  return (values) => {
    const [timestamp, zone] = values;
    if (values.length !== 2 || !(timestamp instanceof Date) || typeof zone !== 'string') {
      return NOT_HANDLED;
    }
    if (zone.length > MAX_TIME_ZONE_LENGTH) {
      throw new BuiltinError(
        `invalid time zone: longer than ${MAX_TIME_ZONE_LENGTH} characters; use an IANA name such as 'Europe/Paris'`,
      );
    }
    // The library's getMilliseconds(zone) ignores the zone (milliseconds are the same in all).
    if (read === undefined) return BigInt(timestamp.getUTCMilliseconds());
    try {
      return BigInt(read(inZone(timestamp, zone)));
    } catch (error) {
      if (error instanceof RangeError) {
        throw new BuiltinError("invalid time zone: use an IANA name such as 'Europe/Paris'");
      }
      throw error;
    }
  };
}

/** Whether a method call `name` with `count` arguments is a timestamp function given a zone. */
export function isTimeZoneCall(name: string, count: number): boolean {
  return count === 1 && TIME_ZONE_FUNCTIONS.includes(name);
}

let timeZonesPrepared = false;

/** Loads the time zone data (the first zone formatted in a process takes 40–180 ms). */
export function prepareTimeZones(): void {
  if (timeZonesPrepared) return;
  timeZonesPrepared = true;
  new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', hour: 'numeric' }).format(0);
}

const timeZoneOverrides = new Map(
  TIME_ZONE_FUNCTIONS.map((name) => [name, timeZoneOverride(name)] as const),
);

const durationOverride: Override = (values) =>
  values.length === 1 && typeof values[0] === 'string' ? parseDuration(values[0]) : NOT_HANDLED;

/** The override for calls to `name`, or undefined when the library's own is kept. */
export function builtinOverride(name: string): Override | undefined {
  if (name === 'duration') return durationOverride;
  if (name === 'lastIndexOf') return lastIndexOfOverride;
  return timeZoneOverrides.get(name);
}
