import { createArden } from '@arden/core';
import { startArden } from '../processes.ts';
import { type Benchmark, ratio } from '../types.ts';

/**
 * SDK heap over 100 000 checks against a real server: after warm-up it must stay flat (no
 * leak). Baseline: the heap right after warm-up, in the same run. Also the server's idle RSS.
 * Run with --expose-gc (the runner does) so the heap is measured after a full collection.
 */
export const memory: Benchmark = {
  name: 'memory',
  description: 'SDK heap growth over many checks; server RSS idle',
  async run({ smoke, log }) {
    const checks = smoke ? 2_000 : 100_000;
    const warmUp = Math.min(10_000, checks / 4);
    const server = await startArden(50);
    try {
      const idleRss = server.rssMiB();
      const arden = createArden({
        apiKey: server.info.key,
        apiUrl: server.info.url,
        logLevel: 'error',
      });
      const lookup = arden.guardTool('crm3.lookup', async (_input: { id: number }) => undefined);
      const concurrency = 16;
      const run = async (count: number) => {
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < count) await lookup({ id: next++ });
          }),
        );
      };
      const heap = () => {
        (globalThis as { gc?: () => void }).gc?.();
        return Math.round((process.memoryUsage().heapUsed / 2 ** 20) * 10) / 10;
      };
      log(`warm-up: ${warmUp} checks`);
      await run(warmUp);
      await arden.flush();
      const afterWarmUp = heap();
      log(`${checks} checks`);
      await run(checks);
      await arden.flush();
      const afterRun = heap();
      await arden.shutdown();
      const busyRss = server.rssMiB();
      return {
        name: 'memory',
        measurements: [
          {
            metric: `SDK heap after ${checks} more checks`,
            value: afterRun,
            unit: 'MiB',
            baseline: { name: 'heap after warm-up', value: afterWarmUp },
            ratio: ratio(afterRun, afterWarmUp),
            goal: 'flat (≤ 1.1×)',
            met: afterRun <= afterWarmUp * 1.1 + 1,
          },
          {
            metric: 'server RSS after the run',
            value: busyRss,
            unit: 'MiB',
            baseline: { name: 'server RSS idle', value: idleRss },
            ratio: ratio(busyRss, idleRss),
          },
        ],
        notes: [
          (globalThis as { gc?: unknown }).gc
            ? 'heap measured after gc()'
            : 'no --expose-gc: heap figures include garbage',
        ],
      };
    } finally {
      await server.stop();
    }
  },
};
