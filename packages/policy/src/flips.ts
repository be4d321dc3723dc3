import type { Effect } from './types';

/** A change of decision between two policy sets: `allow->block`, `requires_approval->allow`… */
export type FlipKind = `${Effect}->${Effect}`;

/** The six kinds of flip, in the order a simulation lists them. */
export const flipKinds: readonly FlipKind[] = [
  'allow->requires_approval',
  'allow->block',
  'requires_approval->allow',
  'requires_approval->block',
  'block->allow',
  'block->requires_approval',
];

/** Parses `allow->block` (also `allow→block`, `allow=>block`, `held` for requires_approval). */
export function parseFlipKind(text: string): FlipKind | undefined {
  const [before, after, ...rest] = text
    .trim()
    .toLowerCase()
    .split(/\s*(?:->|→|=>)\s*/);
  if (rest.length > 0 || before === undefined || after === undefined) return undefined;
  const effect = (word: string) =>
    word === 'held' || word === 'approval' ? 'requires_approval' : word;
  const kind = `${effect(before)}->${effect(after)}` as FlipKind;
  return flipKinds.includes(kind) ? kind : undefined;
}
