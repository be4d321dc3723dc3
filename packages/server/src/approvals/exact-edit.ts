import {
  ExactJsonError,
  isExactUint,
  parseExactJson,
  parseExactJsonMembers,
  parseExactJsonParts,
} from '@arden/policy';
import { ValidationError } from '../errors';
import { maxJsonDepth } from '../http/respond';
import type { JsonPatchOperation } from './state';

// An approver's edit applied to the text of the arguments, not to a parsed copy: a value the edit
// does not touch keeps its bytes (12345678901234567891, 1.0, -0 and 1e400 stay as the agent sent
// them), and a value the approver writes is kept as they wrote it (from the request body's text).
// Only the objects and lists that hold a changed value are written again (compactly); everything
// inside them that did not change is copied as text. The edited call is then parsed exactly, as a
// check's arguments are, so that the policies judge the values that run.

/** A value of the document being edited: its text as written, or a container opened by the edit. */
type Node =
  | { kind: 'text'; text: string }
  | { kind: 'object'; members: Map<string, Node> }
  | { kind: 'array'; elements: Node[] };

/** One operation of an approver's patch, with its value's JSON text as the approver wrote it. */
export interface ExactPatchOperation {
  op: JsonPatchOperation['op'];
  path: string;
  from?: string;
  valueText?: string;
}

const maxOperations = 100;

function parseFailure(error: unknown, field: string): never {
  if (error instanceof ExactJsonError) {
    throw new ValidationError(
      `${field}${error.path ? ` (${error.path})` : ''}: ${error.reason}.`,
      field,
    );
  }
  throw error;
}

/**
 * The operations of a patch, validated, each with the text of its value: from `patchText` (the
 * patch's JSON text as the approver sent it) when given, else written from the parsed value.
 */
export function exactOperations(
  patch: unknown,
  patchText: string | undefined,
): ExactPatchOperation[] {
  if (!Array.isArray(patch) || patch.length === 0 || patch.length > maxOperations) {
    throw new ValidationError(
      `patch must be an RFC 6902 JSON patch: a list of 1 to ${maxOperations} operations such as [{"op": "replace", "path": "/amount", "value": 40}].`,
      'patch',
    );
  }
  let operationTexts: Map<string, string> | undefined;
  if (patchText !== undefined) {
    try {
      operationTexts = parseExactJsonParts(patchText, { maxDepth: maxJsonDepth }).sources;
    } catch (error) {
      parseFailure(error, 'patch');
    }
  }
  return patch.map((raw, index): ExactPatchOperation => {
    const field = `patch[${index}]`;
    const fail = (why: string): never => {
      throw new ValidationError(`${field}: ${why}`, field);
    };
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('must be an object');
    const operation = raw as Partial<JsonPatchOperation>;
    const op = operation.op;
    if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(String(op))) {
      fail('op must be add, remove, replace, move, copy or test');
    }
    parsePointer(operation.path, `${field}.path`);
    if (op === 'move' || op === 'copy') parsePointer(operation.from, `${field}.from`);
    const exact: ExactPatchOperation = {
      op: op as JsonPatchOperation['op'],
      path: operation.path as string,
      ...(operation.from === undefined ? {} : { from: operation.from }),
    };
    if (op === 'add' || op === 'replace' || op === 'test') {
      if (!('value' in operation)) fail(`${op} needs a value`);
      const operationText = operationTexts?.get(String(index));
      let valueText: string | undefined;
      if (operationText !== undefined) {
        try {
          valueText = parseExactJsonMembers(operationText, { maxDepth: maxJsonDepth }).sources.get(
            'value',
          );
        } catch (error) {
          parseFailure(error, field);
        }
      } else {
        try {
          valueText = JSON.stringify(operation.value);
        } catch {
          valueText = undefined;
        }
      }
      if (valueText === undefined) fail(`${op} needs a JSON value`);
      exact.valueText = valueText;
    }
    return exact;
  });
}

/**
 * Applies the operations to the JSON text `document` and returns the edited text. Values the
 * patch does not touch keep their bytes; throws `ValidationError` (naming the operation) for a
 * path that does not exist or a failed `test`.
 */
export function applyExactPatch(document: string, operations: ExactPatchOperation[]): string {
  const holder: { root: Node } = { root: { kind: 'text', text: document } };
  operations.forEach((operation, index) => {
    const field = `patch[${index}]`;
    const fail = (why: string): never => {
      throw new ValidationError(`${field}: ${why}`, field);
    };
    const path = parsePointer(operation.path, `${field}.path`);
    const value = (): Node => ({ kind: 'text', text: operation.valueText as string });
    switch (operation.op) {
      case 'test': {
        const there = exactValue(serialize(read(holder, path, fail)), field);
        if (!sameValue(there, exactValue(operation.valueText as string, field), true)) {
          fail(`test failed at ${operation.path}: the value there is not the one given`);
        }
        break;
      }
      case 'remove':
        remove(holder, path, fail);
        break;
      case 'replace':
        replace(holder, path, value(), fail);
        break;
      case 'add':
        add(holder, path, value(), fail);
        break;
      case 'move':
      case 'copy': {
        const from = parsePointer(operation.from, `${field}.from`);
        if (
          operation.op === 'move' &&
          path.length > from.length &&
          from.every((token, at) => path[at] === token)
        ) {
          fail(`cannot move ${operation.from} into itself`);
        }
        const moved = clone(read(holder, from, fail));
        if (operation.op === 'move') remove(holder, from, fail);
        add(holder, path, moved, fail);
        break;
      }
    }
  });
  return serialize(holder.root);
}

/**
 * The exact values of edited arguments' text (integers as `bigint`, as a check's): throws
 * `ValidationError` unless the text is a JSON object within the nesting limit.
 */
export function exactArguments(text: string, field: string): Record<string, unknown> {
  const value = exactValue(text, field);
  if (value === null || typeof value !== 'object' || Array.isArray(value) || isExactUint(value)) {
    throw new ValidationError(
      'The edited arguments must be an object of keyword arguments ({"amount": 40}).',
      field,
    );
  }
  return value as Record<string, unknown>;
}

function exactValue(text: string, field: string): unknown {
  try {
    return parseExactJson(text, { maxDepth: maxJsonDepth });
  } catch (error) {
    parseFailure(error, field);
  }
}

/**
 * Whether two exact values are the same. `loose` (a patch's `test`) compares numbers by value
 * (RFC 6902: `1` equals `1.0`); otherwise an integer and a double differ, as they do to CEL.
 */
export function sameValue(left: unknown, right: unknown, loose = false): boolean {
  const l = isExactUint(left) ? left.valueOf() : left;
  const r = isExactUint(right) ? right.valueOf() : right;
  const numeric = (value: unknown) => typeof value === 'number' || typeof value === 'bigint';
  if (numeric(l) && numeric(r)) {
    if (typeof l === typeof r) return l === r;
    // biome-ignore lint/suspicious/noDoubleEquals: a bigint and a number compare exactly by value with ==.
    return loose && l == r;
  }
  if (Array.isArray(l) && Array.isArray(r)) {
    return l.length === r.length && l.every((item, index) => sameValue(item, r[index], loose));
  }
  if (l !== null && r !== null && typeof l === 'object' && typeof r === 'object') {
    if (Array.isArray(l) || Array.isArray(r)) return false;
    const leftKeys = Object.keys(l);
    const rightObject = r as Record<string, unknown>;
    return (
      leftKeys.length === Object.keys(rightObject).length &&
      leftKeys.every(
        (key) =>
          Object.hasOwn(rightObject, key) &&
          sameValue((l as Record<string, unknown>)[key], rightObject[key], loose),
      )
    );
  }
  return l === r;
}

/**
 * The operations that turn the arguments `beforeText` into `afterText` (top-level keys), for the
 * record; the values are as `JSON.parse` reads the new text (the texts themselves are the record
 * of what runs).
 */
export function patchBetweenTexts(beforeText: string, afterText: string): JsonPatchOperation[] {
  const before = parseExactJsonMembers(beforeText, { maxDepth: maxJsonDepth });
  const after = parseExactJsonMembers(afterText, { maxDepth: maxJsonDepth });
  const operations: JsonPatchOperation[] = [];
  const pointerTo = (key: string) => `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  for (const key of before.sources.keys()) {
    if (!after.sources.has(key)) operations.push({ op: 'remove', path: pointerTo(key) });
    else if (!sameValue(before.value[key], after.value[key])) {
      operations.push({
        op: 'replace',
        path: pointerTo(key),
        value: JSON.parse(after.sources.get(key) as string),
      });
    }
  }
  for (const [key, text] of after.sources) {
    if (!before.sources.has(key)) {
      operations.push({ op: 'add', path: pointerTo(key), value: JSON.parse(text) });
    }
  }
  return operations;
}

function parsePointer(pointer: unknown, field: string): string[] {
  if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/'))) {
    throw new ValidationError(`${field} must be a JSON pointer such as "/amount".`, field);
  }
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

type Fail = (why: string) => never;

/** The node as an opened container (the object's members or the list's elements as texts). */
function open(node: Node): Exclude<Node, { kind: 'text' }> | undefined {
  if (node.kind !== 'text') return node;
  const first = node.text.trimStart().charCodeAt(0);
  if (first !== 123 && first !== 91) return undefined;
  const { value, sources } = parseExactJsonParts(node.text, { maxDepth: maxJsonDepth });
  const texts = [...sources].map(([key, text]): [string, Node] => [key, { kind: 'text', text }]);
  return Array.isArray(value)
    ? { kind: 'array', elements: texts.map(([, child]) => child) }
    : { kind: 'object', members: new Map(texts) };
}

const indexPattern = /^(0|[1-9][0-9]*)$/;

function child(node: Exclude<Node, { kind: 'text' }>, token: string): Node | undefined {
  if (node.kind === 'array') {
    return indexPattern.test(token) ? node.elements[Number(token)] : undefined;
  }
  return node.members.get(token);
}

/** The container at `path`, opened (and put in its parent's place) on the way. */
function container(
  holder: { root: Node },
  path: string[],
  fail: Fail,
): Exclude<Node, { kind: 'text' }> {
  let put = (node: Node) => {
    holder.root = node;
  };
  let node = holder.root;
  for (let depth = 0; ; depth++) {
    const opened = open(node);
    if (!opened) {
      fail(
        depth === path.length
          ? `/${path.join('/')} is not an object or a list`
          : `no value at /${path.slice(0, depth + 1).join('/')}`,
      );
    }
    const current = opened as Exclude<Node, { kind: 'text' }>;
    put(current);
    if (depth === path.length) return current;
    const token = path[depth] as string;
    const next = child(current, token);
    if (next === undefined) fail(`no value at /${path.slice(0, depth + 1).join('/')}`);
    put = (replacement: Node) => {
      if (current.kind === 'array') current.elements[Number(token)] = replacement;
      else current.members.set(token, replacement);
    };
    node = next as Node;
  }
}

function read(holder: { root: Node }, path: string[], fail: Fail): Node {
  if (path.length === 0) return holder.root;
  const parent = container(holder, path.slice(0, -1), fail);
  const found = child(parent, path.at(-1) as string);
  if (found === undefined) fail(`no value at /${path.join('/')}`);
  return found as Node;
}

function remove(holder: { root: Node }, path: string[], fail: Fail): void {
  if (path.length === 0) fail('cannot remove the whole document');
  read(holder, path, fail);
  const parent = container(holder, path.slice(0, -1), fail);
  const last = path.at(-1) as string;
  if (parent.kind === 'array') parent.elements.splice(Number(last), 1);
  else parent.members.delete(last);
}

function replace(holder: { root: Node }, path: string[], value: Node, fail: Fail): void {
  if (path.length === 0) {
    holder.root = value;
    return;
  }
  read(holder, path, fail);
  const parent = container(holder, path.slice(0, -1), fail);
  const last = path.at(-1) as string;
  // In place: the key keeps its position in the object.
  if (parent.kind === 'array') parent.elements[Number(last)] = value;
  else parent.members.set(last, value);
}

function add(holder: { root: Node }, path: string[], value: Node, fail: Fail): void {
  if (path.length === 0) {
    holder.root = value;
    return;
  }
  const parent = container(holder, path.slice(0, -1), fail);
  const last = path.at(-1) as string;
  if (parent.kind === 'array') {
    const index = last === '-' ? parent.elements.length : Number(last);
    if (last !== '-' && (!indexPattern.test(last) || index > parent.elements.length)) {
      fail(`no array index ${last} at /${path.slice(0, -1).join('/')}`);
    }
    parent.elements.splice(index, 0, value);
  } else {
    if (last === '__proto__') fail('the key __proto__ is not allowed');
    parent.members.set(last, value);
  }
}

function clone(node: Node): Node {
  if (node.kind === 'text') return node;
  if (node.kind === 'array') return { kind: 'array', elements: node.elements.map(clone) };
  return {
    kind: 'object',
    members: new Map([...node.members].map(([key, value]) => [key, clone(value)])),
  };
}

/** The node's JSON text: as written where it was not opened, else written again around its parts. */
function serialize(node: Node): string {
  if (node.kind === 'text') return node.text;
  if (node.kind === 'array') return `[${node.elements.map(serialize).join(',')}]`;
  const members: string[] = [];
  for (const [key, value] of node.members)
    members.push(`${JSON.stringify(key)}:${serialize(value)}`);
  return `{${members.join(',')}}`;
}

/**
 * `text` with the values at `paths` (dot-separated names; a list on the way applies the rest of
 * the path to each item) replaced by the JSON text `replacement`, and the paths that were
 * present. Everything else keeps its bytes: a policy's `redact` masks only the sensitive values
 * of the call that is stored and shown.
 */
export function maskJsonText(
  text: string,
  paths: readonly string[],
  replacement: string,
): { text: string; found: string[] } {
  let root: Node = { kind: 'text', text };
  const found: string[] = [];
  for (const path of paths) {
    const masked = maskNode(root, path.split('.'), replacement);
    if (masked) {
      root = masked;
      found.push(path);
    }
  }
  return { text: found.length === 0 ? text : serialize(root), found };
}

/** The node with the values at `names` replaced, or undefined when there is none. */
function maskNode(node: Node, names: readonly string[], replacement: string): Node | undefined {
  const opened = open(node);
  if (!opened) return undefined;
  if (opened.kind === 'array') {
    let any = false;
    opened.elements.forEach((element, index) => {
      const masked = maskNode(element, names, replacement);
      if (masked) {
        opened.elements[index] = masked;
        any = true;
      }
    });
    return any ? opened : undefined;
  }
  const [name, ...rest] = names as [string, ...string[]];
  const member = opened.members.get(name);
  if (member === undefined) return undefined;
  const masked =
    rest.length === 0
      ? ({ kind: 'text', text: replacement } as const)
      : maskNode(member, rest, replacement);
  if (!masked) return undefined;
  opened.members.set(name, masked);
  return opened;
}

/**
 * The JSON text without the whitespace between its tokens, every value kept as written
 * (`{"a": 1.0}` → `{"a":1.0}`): how an approver's whole arguments are stored, so that a client
 * that forwards the edited call byte for byte (the MCP gateways) can.
 */
export function compactJson(text: string): string {
  const deep = (node: Node): string => {
    const opened = open(node);
    if (!opened) return (node as { text: string }).text;
    if (opened.kind === 'array') return `[${opened.elements.map(deep).join(',')}]`;
    const members: string[] = [];
    for (const [key, value] of opened.members)
      members.push(`${JSON.stringify(key)}:${deep(value)}`);
    return `{${members.join(',')}}`;
  };
  return deep({ kind: 'text', text: text.trim() });
}
