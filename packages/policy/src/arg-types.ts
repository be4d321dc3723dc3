import { keysOf } from './budget';
import { isExactUint } from './exact-json';

/**
 * Declared argument types (`args: {amount: number, to: list<string>}`) and the shape of an
 * input for logs: its types, never its values.
 */

/** A parsed argument type. */
export type ArgType =
  | { kind: 'any' | 'string' | 'bool' | 'number' | 'int' | 'double' | 'null'; optional: boolean }
  | { kind: 'list' | 'map'; of: ArgType | undefined; optional: boolean };

const SCALARS = new Set(['any', 'dyn', 'string', 'bool', 'number', 'int', 'double', 'null']);

/** Parses `list<string>`, `map<number>`, `int?`…; returns a message when it is not a type. */
export function parseArgType(text: string): ArgType | string {
  const source = text.replace(/\s+/g, '');
  let position = 0;
  const fail = () =>
    `"${text}" is not an argument type: use string, bool, number, int, double, null, any, list, list<T>, map, map<T> (map<string, T>), with a trailing ? for an optional one`;
  const parse = (depth: number): ArgType | undefined => {
    if (depth > 8) return undefined;
    const match = /^[a-z]+/.exec(source.slice(position));
    if (match === null) return undefined;
    const name = match[0];
    position += name.length;
    let type: ArgType;
    if (SCALARS.has(name)) {
      type = { kind: name === 'dyn' ? 'any' : (name as 'any'), optional: false };
    } else if (name === 'list' || name === 'map') {
      let of: ArgType | undefined;
      if (source[position] === '<') {
        position++;
        if (name === 'map' && source.startsWith('string,', position)) position += 7;
        of = parse(depth + 1);
        if (of === undefined || source[position] !== '>') return undefined;
        position++;
      }
      type = { kind: name, of, optional: false };
    } else return undefined;
    if (source[position] === '?') {
      position++;
      type.optional = true;
    }
    return type;
  };
  const type = parse(0);
  if (type === undefined || position !== source.length) return fail();
  return type;
}

/** The CEL name of a value's type: `int`, `uint`, `double`, `string`, `list`, `map`… */
export function celTypeName(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return 'int';
    case 'number':
      return 'double';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'undefined':
      return 'absent';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'list';
      if (value instanceof Uint8Array) return 'bytes';
      if (value instanceof Date) return 'timestamp';
      if (isPlainObject(value)) return 'map';
      // A uint above int64 (parseExactJson), or another library value.
      return isExactUint(value) ? 'uint' : 'object';
    default:
      return typeof value;
  }
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function isInteger(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (typeof value === 'number') return Number.isSafeInteger(value);
  return celTypeName(value) === 'uint';
}

// Elements of a list checked against `list<T>`; above this, evaluation's budget would be spent
// anyway, and the check stays bounded.
const MAX_CHECKED_ELEMENTS = 100_000;

/** Why `value` does not have `type` (`where` names it), or undefined when it does. */
export function argTypeMismatch(type: ArgType, value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) {
    if (type.optional || type.kind === 'any' || (value === null && type.kind === 'null'))
      return undefined;
    return value === undefined ? `${where} is missing` : `${where} is null, not ${typeLabel(type)}`;
  }
  const actual = celTypeName(value);
  let matches: boolean;
  switch (type.kind) {
    case 'any':
      return undefined;
    case 'number':
      matches = actual === 'int' || actual === 'uint' || actual === 'double';
      break;
    case 'int':
      matches = isInteger(value);
      break;
    case 'double':
      matches = actual === 'double';
      break;
    default:
      matches = actual === type.kind;
  }
  if (!matches) return `${where} is ${article(actual)}, not ${typeLabel(type)}`;
  if ((type.kind === 'list' || type.kind === 'map') && type.of !== undefined) {
    const inner = type.of;
    if (Array.isArray(value)) {
      const count = Math.min(value.length, MAX_CHECKED_ELEMENTS);
      for (let index = 0; index < count; index++) {
        const mismatch = argTypeMismatch(inner, value[index], `${where}[${index}]`);
        if (mismatch !== undefined) return mismatch;
      }
    } else {
      const keys = keysOf(value as object);
      const count = Math.min(keys.length, MAX_CHECKED_ELEMENTS);
      for (let index = 0; index < count; index++) {
        const mismatch = argTypeMismatch(
          inner,
          (value as Record<string, unknown>)[keys[index] as string],
          `${where} entry ${index + 1}`,
        );
        if (mismatch !== undefined) return mismatch;
      }
    }
  }
  return undefined;
}

function article(name: string): string {
  return /^[aeiou]/.test(name) ? `an ${name}` : `a ${name}`;
}

/** `list<string>`, `int?`… */
export function typeLabel(type: ArgType): string {
  const base =
    (type.kind === 'list' || type.kind === 'map') && type.of !== undefined
      ? `${type.kind}<${typeLabel({ ...type.of, optional: false })}>`
      : type.kind;
  return type.optional ? `${base}?` : base;
}

const MAX_SHAPE_KEYS = 32;
const MAX_SHAPE_ELEMENTS = 64;
/** Values one shape description looks at, in all: it is made after a budget ran out. */
const MAX_SHAPE_VALUES = 512;

/**
 * The shape of the arguments for a log: top-level names with their types, lists with their
 * length and element types, nested maps with their size. Never a value, nor a nested key (those
 * can be data). Bounded: at most MAX_SHAPE_VALUES values are looked at (the rest shows as `…`),
 * and a map's size comes from its kept key list (see `keysOf`).
 */
export function describeShape(args: Record<string, unknown>): string {
  const parts: string[] = [];
  const keys = keysOf(args);
  const looked = { count: 0 };
  for (const [count, key] of keys.entries()) {
    if (count >= MAX_SHAPE_KEYS) {
      parts.push('…');
      break;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key) ? key : JSON.stringify(key.slice(0, 64));
    parts.push(`${name}: ${valueShape(args[key], 0, looked)}`);
  }
  return `{${parts.join(', ')}}`;
}

function valueShape(value: unknown, depth: number, looked: { count: number }): string {
  looked.count++;
  const type = celTypeName(value);
  if (type === 'string') return `string[${(value as string).length}]`;
  if (type === 'list') {
    const list = value as unknown[];
    if (depth >= 2) return `list[${list.length}]`;
    const elements = new Set<string>();
    let index = 0;
    for (; index < list.length && index < MAX_SHAPE_ELEMENTS; index++) {
      if (looked.count >= MAX_SHAPE_VALUES) break;
      elements.add(elementShape(list[index], depth + 1, looked));
    }
    const shown = [...elements].join('|');
    const more = index < list.length;
    const inner = shown === '' ? (more ? '…' : 'empty') : more ? `${shown}|…` : shown;
    return `list<${inner}>[${list.length}]`;
  }
  if (type === 'map') return `map[${keysOf(value as object).length}]`;
  return type;
}

function elementShape(value: unknown, depth: number, looked: { count: number }): string {
  const type = celTypeName(value);
  if (type === 'list') return valueShape(value, depth, looked);
  looked.count++;
  return type;
}

/**
 * The CEL type a declared type checks as: `number`, `any`, `null` and optional ones are `dyn`
 * (CEL has no union of int and double), the others their CEL name.
 */
export function celCheckType(type: ArgType): string {
  if (type.optional) return 'dyn';
  switch (type.kind) {
    case 'string':
    case 'bool':
    case 'int':
    case 'double':
      return type.kind;
    case 'list':
      return `list<${type.of === undefined ? 'dyn' : celCheckType(type.of)}>`;
    case 'map':
      return `map<string, ${type.of === undefined ? 'dyn' : celCheckType(type.of)}>`;
    default:
      return 'dyn';
  }
}
