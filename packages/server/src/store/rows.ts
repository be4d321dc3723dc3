import { encodeCursor } from './json';
import type { Page } from './records';

// Helpers shared by the repositories of every resource (src/<resource>/repository.ts).

/** A column as a string, or null. */
export const text = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value);
/** A column as a number, or null. */
export const int = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

/** A page size between 1 and `maximum` (`fallback` when not given). */
export function clampLimit(limit: number | undefined, fallback = 50, maximum = 500): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.max(1, Math.min(maximum, Math.floor(limit)));
}

/** A page of `limit` rows out of `limit + 1` read, with the cursor of the next one. */
export function page<T extends { seq: number }>(rows: T[], limit: number): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items, nextCursor: more && last ? encodeCursor(last.seq) : undefined };
}
