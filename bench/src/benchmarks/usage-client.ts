import { createArden } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import { summarize } from '../stats.ts';
import { type Benchmark, ratio } from '../types.ts';

/**
 * The caller's cost of `logTokenUsage`: it must add no awaited network call to the agent.
 * Baseline: pushing the same object onto an array (the least any recorder can do).
 */
export const usageClient: Benchmark = {
  name: 'usage-client',
  description: 'Time logTokenUsage() takes from the caller, against an array push',
  async run({ smoke }) {
    const calls = smoke ? 20_000 : 1_000_000;
    const server = createTestArden();
    const arden = createArden({ ...server.options(), usageBatchSize: 1000, usageMaxQueue: calls });
    const event = { model: 'gpt-4o-mini', promptTokens: 420, completionTokens: 80 };
    const sink: unknown[] = [];
    const measure = (label: string, fn: () => void) => {
      // Batches of 1 000 calls: one timer read per batch keeps the timer out of the figure.
      const perCall: number[] = [];
      for (let batch = 0; batch < calls / 1000; batch++) {
        const started = performance.now();
        for (let index = 0; index < 1000; index++) fn();
        // Milliseconds per 1 000 calls is numerically microseconds per call.
        perCall.push(performance.now() - started);
      }
      return { label, ...summarize(perCall) };
    };
    measure('warm-up', () => sink.push({ ...event }));
    const baseline = measure('array push', () => sink.push({ ...event }));
    sink.length = 0;
    const measured = measure('logTokenUsage', () => arden.logTokenUsage(event));
    await arden.shutdown();
    return {
      name: 'usage-client',
      measurements: [
        {
          metric: 'logTokenUsage per call (p50 of 1k-call batches)',
          value: round(measured.p50),
          unit: 'µs',
          baseline: { name: 'array push', value: round(baseline.p50) },
          ratio: ratio(measured.p50, baseline.p50),
          goal: '≤ 5 µs per call',
          met: measured.p50 <= 5,
        },
        {
          metric: 'logTokenUsage per call (p99 of 1k-call batches)',
          value: round(measured.p99),
          unit: 'µs',
          baseline: { name: 'array push', value: round(baseline.p99) },
          ratio: ratio(measured.p99, baseline.p99),
        },
      ],
      notes: [`${calls} calls; events delivered: ${server.usage.length}`],
    };
  },
};

const round = (value: number) => Math.round(value * 1000) / 1000;
