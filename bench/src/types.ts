/** One measured figure, with its baseline from the same run. */
export interface Measurement {
  /** What was measured, e.g. "guardTool p50". */
  metric: string;
  value: number;
  unit: string;
  /** The baseline's figure in the same unit, measured in the same run. */
  baseline?: { name: string; value: number };
  /** value ÷ baseline (or baseline ÷ value for rates, see `higherIsBetter`). */
  ratio?: number;
  /** The goal, as text, e.g. "≤ 1.3× baseline". */
  goal?: string;
  /** Whether the goal was met (only judged in full runs, never in CI). */
  met?: boolean;
}

/** What a benchmark returns. */
export interface BenchResult {
  name: string;
  measurements: Measurement[];
  notes?: string[];
}

/** Options every benchmark receives. */
export interface BenchOptions {
  /** A short run for CI: it checks the benchmark still works, not how fast it is. */
  smoke: boolean;
  log: (message: string) => void;
}

/** A benchmark module. */
export interface Benchmark {
  name: string;
  description: string;
  run(options: BenchOptions): Promise<BenchResult>;
}

/** value ÷ baseline, rounded for display. */
export function ratio(value: number, baseline: number): number {
  return Number((value / baseline).toPrecision(3));
}
