// CI runs every benchmark briefly so that none can rot; it checks they produce figures with a
// baseline from the same run, and never judges the times (the machines are shared and noisy).
import { describe, expect, it } from 'vitest';
import { benchmarks } from './benchmarks/index.ts';
import { skipSettling } from './processes.ts';

skipSettling();

describe('benchmarks (smoke run)', () => {
  it.each(benchmarks.map((benchmark) => [benchmark.name, benchmark] as const))(
    '%s runs and reports figures against a baseline',
    async (_, benchmark) => {
      const result = await benchmark.run({ smoke: true, log: () => {} });
      expect(result.name).toBe(benchmark.name);
      expect(result.measurements.length).toBeGreaterThan(0);
      for (const measurement of result.measurements) {
        expect(Number.isFinite(measurement.value), measurement.metric).toBe(true);
        expect(measurement.value, measurement.metric).toBeGreaterThan(0);
      }
      expect(result.measurements.some((measurement) => measurement.baseline !== undefined)).toBe(
        true,
      );
    },
  );
});
