/** Summary statistics of a sample of durations (or any numbers). */
export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

/** The q-quantile (0..1) of sorted values, by nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}

/** Summarises a sample. */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((left, right) => left - right);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    count: sorted.length,
    mean: total / Math.max(1, sorted.length),
    p50: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    p99: quantile(sorted, 0.99),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** Times `fn` `count` times in sequence; returns each duration in milliseconds. */
export async function timeEach(count: number, fn: (index: number) => unknown): Promise<number[]> {
  const durations: number[] = new Array(count);
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    await fn(index);
    durations[index] = performance.now() - started;
  }
  return durations;
}
