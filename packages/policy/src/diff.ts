import type { PolicyDefinition, RuleDefinition } from './types';

/** One field that differs: `path` is inside the policy, such as `['rules', 1, 'if']`. */
export interface PolicyFieldChange {
  path: (string | number)[];
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

/** A policy present in both lists (by name) whose fields differ. */
export interface PolicyChange {
  name: string;
  before: PolicyDefinition;
  after: PolicyDefinition;
  changes: PolicyFieldChange[];
}

/** What changed between two lists of policies, matched by policy name. */
export interface PolicyDiff {
  added: PolicyDefinition[];
  removed: PolicyDefinition[];
  changed: PolicyChange[];
  /** Names of the policies that are the same in both lists. */
  unchanged: string[];
  hasChanges: boolean;
}

// Bookkeeping, not behaviour: every save bumps the version and the store assigns ids.
const IGNORED = new Set(['id', 'version']);
const POLICY_KEYS = [
  'name',
  'tool',
  'description',
  'enabled',
  'action',
  'default',
  'timeout',
  'on_timeout',
  'approvals',
  'from',
  'exclude_requester',
  'exclude_owner',
  'approve_in',
  'notify',
  'remind_after',
  'escalate_after',
  'escalate_to',
  'on_error',
  'args',
  'redact',
  'rules',
];
const RULE_KEYS = [
  'if',
  'then',
  'timeout',
  'on_timeout',
  'approvals',
  'from',
  'exclude_requester',
  'exclude_owner',
  'approve_in',
  'notify',
  'remind_after',
  'escalate_after',
  'escalate_to',
  'on_error',
  'description',
];

function deepEqual(left: unknown, right: unknown): boolean {
  if (Object.is(left, right)) return true;
  if (left === null || right === null || typeof left !== 'object' || typeof right !== 'object') {
    return false;
  }
  if (Array.isArray(left) !== Array.isArray(right)) return false;
  const leftKeys = Object.keys(left).filter(
    (key) => (left as Record<string, unknown>)[key] !== undefined,
  );
  const rightKeys = Object.keys(right).filter(
    (key) => (right as Record<string, unknown>)[key] !== undefined,
  );
  if (leftKeys.length !== rightKeys.length) return false;
  return leftKeys.every((key) =>
    deepEqual((left as Record<string, unknown>)[key], (right as Record<string, unknown>)[key]),
  );
}

function orderedKeys(known: string[], left: object, right: object): string[] {
  const extra = [...Object.keys(left), ...Object.keys(right)].filter((key) => !known.includes(key));
  return [...known, ...new Set(extra)];
}

function compareFields(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  keys: string[],
  prefix: (string | number)[],
  changes: PolicyFieldChange[],
): void {
  for (const key of keys) {
    if (IGNORED.has(key) && prefix.length === 0) continue;
    if (key === 'rules' && prefix.length === 0) continue;
    const left = before[key];
    const right = after[key];
    if (deepEqual(left, right)) continue;
    if (left === undefined) changes.push({ path: [...prefix, key], kind: 'added', after: right });
    else if (right === undefined)
      changes.push({ path: [...prefix, key], kind: 'removed', before: left });
    else changes.push({ path: [...prefix, key], kind: 'changed', before: left, after: right });
  }
}

/**
 * Rules are aligned by a longest common subsequence of identical rules, so that inserting a rule
 * shows as one added rule rather than every later rule changed. Between aligned rules, the
 * remaining ones are paired in order as changed, and the rest are added or removed.
 */
function compareRules(
  before: RuleDefinition[],
  after: RuleDefinition[],
  changes: PolicyFieldChange[],
): void {
  const rows = before.length;
  const columns = after.length;
  const lengths: number[][] = Array.from({ length: rows + 1 }, () =>
    new Array<number>(columns + 1).fill(0),
  );
  for (let row = rows - 1; row >= 0; row--) {
    for (let column = columns - 1; column >= 0; column--) {
      lengths[row]![column] = deepEqual(before[row], after[column])
        ? lengths[row + 1]![column + 1]! + 1
        : Math.max(lengths[row + 1]![column]!, lengths[row]![column + 1]!);
    }
  }
  let row = 0;
  let column = 0;
  const pendingBefore: number[] = [];
  const pendingAfter: number[] = [];
  const flush = () => {
    const paired = Math.min(pendingBefore.length, pendingAfter.length);
    for (let index = 0; index < paired; index++) {
      const beforeIndex = pendingBefore[index]!;
      const afterIndex = pendingAfter[index]!;
      const left = before[beforeIndex] as unknown as Record<string, unknown>;
      const right = after[afterIndex] as unknown as Record<string, unknown>;
      compareFields(
        left,
        right,
        orderedKeys(RULE_KEYS, left, right),
        ['rules', afterIndex],
        changes,
      );
    }
    for (const beforeIndex of pendingBefore.slice(paired)) {
      changes.push({ path: ['rules', beforeIndex], kind: 'removed', before: before[beforeIndex] });
    }
    for (const afterIndex of pendingAfter.slice(paired)) {
      changes.push({ path: ['rules', afterIndex], kind: 'added', after: after[afterIndex] });
    }
    pendingBefore.length = 0;
    pendingAfter.length = 0;
  };
  while (row < rows || column < columns) {
    if (row < rows && column < columns && deepEqual(before[row], after[column])) {
      flush();
      row++;
      column++;
    } else if (
      column >= columns ||
      (row < rows && lengths[row + 1]![column]! >= lengths[row]![column + 1]!)
    ) {
      pendingBefore.push(row++);
    } else {
      pendingAfter.push(column++);
    }
  }
  flush();
}

/**
 * Compares two lists of policies by name, for `arden policies diff` and a version's history:
 * policies added, removed, and changed with field-level changes (rules aligned so an inserted
 * rule is one change). `id` and `version` are ignored; absent and `undefined` are the same.
 */
export function diffPolicies(before: PolicyDefinition[], after: PolicyDefinition[]): PolicyDiff {
  const beforeByName = new Map(before.map((policy) => [policy.name, policy]));
  const afterNames = new Set(after.map((policy) => policy.name));
  const diff: PolicyDiff = {
    added: [],
    removed: [],
    changed: [],
    unchanged: [],
    hasChanges: false,
  };
  for (const policy of after) {
    const previous = beforeByName.get(policy.name);
    if (previous === undefined) {
      diff.added.push(policy);
      continue;
    }
    const changes: PolicyFieldChange[] = [];
    const left = previous as unknown as Record<string, unknown>;
    const right = policy as unknown as Record<string, unknown>;
    compareFields(left, right, orderedKeys(POLICY_KEYS, left, right), [], changes);
    compareRules(previous.rules ?? [], policy.rules ?? [], changes);
    if (changes.length === 0) diff.unchanged.push(policy.name);
    else diff.changed.push({ name: policy.name, before: previous, after: policy, changes });
  }
  for (const policy of before) {
    if (!afterNames.has(policy.name)) diff.removed.push(policy);
  }
  diff.hasChanges = diff.added.length + diff.removed.length + diff.changed.length > 0;
  return diff;
}

function formatPath(path: (string | number)[]): string {
  let text = '';
  for (const key of path) text += typeof key === 'number' ? `[${key}]` : text ? `.${key}` : key;
  return text;
}

function show(value: unknown): string {
  return JSON.stringify(value);
}

/** A plain-text rendering of a diff, one line per change, as `arden policies diff` prints it. */
export function formatPolicyDiff(diff: PolicyDiff): string {
  const lines: string[] = [];
  for (const policy of diff.added) lines.push(`+ policy "${policy.name}" (tool ${policy.tool})`);
  for (const policy of diff.removed) lines.push(`- policy "${policy.name}" (tool ${policy.tool})`);
  for (const change of diff.changed) {
    lines.push(`~ policy "${change.name}"`);
    for (const field of change.changes) {
      const path = formatPath(field.path);
      if (field.kind === 'added') lines.push(`    + ${path}: ${show(field.after)}`);
      else if (field.kind === 'removed') lines.push(`    - ${path}: ${show(field.before)}`);
      else lines.push(`    ~ ${path}: ${show(field.before)} -> ${show(field.after)}`);
    }
  }
  return lines.length === 0 ? 'No changes.' : lines.join('\n');
}
