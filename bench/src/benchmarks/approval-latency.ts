import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArden } from '@arden/core';
import { type ArdenServer, createServer } from '@arden/server';
import { freshPostgres } from '../postgres.ts';
import { summarize } from '../stats.ts';
import { type Benchmark, type Measurement, ratio } from '../types.ts';

/**
 * From the admin's approve call returning to the guarded tool's body starting; the agent waits
 * by long-poll over HTTP. On one server (embedded store), and across two replicas on PostgreSQL:
 * the agent waits on replica B while the approval is decided on replica A, so the wake-up
 * travels through PostgreSQL's LISTEN/NOTIFY. Baseline: ardenpy's fixed 2 s poll interval,
 * whose expected wait is 1 s — computed, not slept, to keep the run short.
 */
export const approvalLatency: Benchmark = {
  name: 'approval-latency',
  description: 'Approve → tool body starts (long-poll): one server, and across two replicas',
  async run({ smoke, log }) {
    const trials = smoke ? 20 : 500;
    const ardenpyMean = 1000;
    const measurements: Measurement[] = [];

    const dataDir = mkdtempSync(join(tmpdir(), 'arden-bench-'));
    const single = await createServer({ dataDir, logLevel: 'error', host: '127.0.0.1' });
    try {
      await single.listen(0);
      log(`${trials} approvals on one server`);
      const latencies = summarize(await measure(single, single, trials));
      measurements.push(
        {
          metric: 'one server: approve → tool body, p50',
          value: round(latencies.p50),
          unit: 'ms',
          baseline: { name: 'ardenpy 2 s poll (mean)', value: ardenpyMean },
          ratio: ratio(latencies.p50, ardenpyMean),
          goal: 'p50 ≤ 2 ms',
          met: latencies.p50 <= 2,
        },
        {
          metric: 'one server: approve → tool body, p99',
          value: round(latencies.p99),
          unit: 'ms',
          baseline: { name: 'ardenpy 2 s poll (mean)', value: ardenpyMean },
          ratio: ratio(latencies.p99, ardenpyMean),
          goal: 'p99 ≤ 10 ms',
          met: latencies.p99 <= 10,
        },
      );
    } finally {
      await single.close();
      rmSync(dataDir, { recursive: true, force: true });
    }

    const database = await freshPostgres();
    const directories = [
      mkdtempSync(join(tmpdir(), 'arden-bench-')),
      mkdtempSync(join(tmpdir(), 'arden-bench-')),
    ];
    const replicas: ArdenServer[] = [];
    try {
      for (const directory of directories) {
        const replica = await createServer({
          dataDir: directory,
          databaseUrl: database.url,
          logLevel: 'error',
          host: '127.0.0.1',
        });
        replicas.push(replica);
        await replica.listen(0);
      }
      log(`${trials} approvals across two replicas (PostgreSQL)`);
      const [approver, waiter] = replicas as [ArdenServer, ArdenServer];
      const latencies = summarize(await measure(waiter, approver, trials));
      measurements.push(
        {
          metric: 'two replicas (PostgreSQL): approve on A → body on B, p50',
          value: round(latencies.p50),
          unit: 'ms',
          baseline: { name: 'ardenpy 2 s poll (mean)', value: ardenpyMean },
          ratio: ratio(latencies.p50, ardenpyMean),
        },
        {
          metric: 'two replicas (PostgreSQL): approve on A → body on B, p99',
          value: round(latencies.p99),
          unit: 'ms',
          baseline: { name: 'ardenpy 2 s poll (mean)', value: ardenpyMean },
          ratio: ratio(latencies.p99, ardenpyMean),
          goal: 'p99 ≤ 50 ms',
          met: latencies.p99 <= 50,
        },
      );
    } finally {
      for (const replica of replicas) await replica.close();
      for (const directory of directories) rmSync(directory, { recursive: true, force: true });
      await database.drop();
    }
    return {
      name: 'approval-latency',
      measurements,
      notes: [
        `${trials} trials each; replicas are two servers in this process sharing one PostgreSQL`,
      ],
    };
  },
};

/**
 * Runs `trials` held calls: the agent talks to `waiter`, the approval is decided on `approver`.
 * Returns, per trial, the time from the decision returning to the tool body starting, in ms.
 */
async function measure(
  waiter: ArdenServer,
  approver: ArdenServer,
  trials: number,
): Promise<number[]> {
  const name = `bench-${Math.random().toString(36).slice(2, 8)}`;
  const agent = await approver.agents.createAgent({
    name,
    defaultAction: 'allow',
    webhookUrl: null,
  });
  const { key } = await approver.agents.createKey(agent.id, 'live');
  await approver.policies.saveSet(agent.id, 'live', [
    { name: 'refunds', tool: 'stripe.issue_refund', action: 'requires_approval' },
  ]);
  const arden = createArden({ apiKey: key, apiUrl: waiter.url as string, logLevel: 'error' });
  let bodyStarted = 0;
  const refund = arden.guardTool('stripe.issue_refund', async (_input: { amount: number }) => {
    bodyStarted = performance.now();
  });
  let held = Promise.withResolvers<string>();
  const unsubscribe = waiter.events.subscribe((event) => {
    if (event.type === 'action.created' && event.action.status === 'pending')
      held.resolve(event.action.id);
  });
  const latencies: number[] = [];
  try {
    for (let trial = 0; trial < trials; trial++) {
      const call = refund({ amount: trial });
      const actionId = await held.promise;
      held = Promise.withResolvers<string>();
      // Let the agent's long-poll reach the server before approving.
      await new Promise((resolve) => setTimeout(resolve, 5));
      await approver.approvals.decide(actionId, { decision: 'approve', userId: null, notes: null });
      const approvedAt = performance.now();
      await call;
      latencies.push(bodyStarted - approvedAt);
    }
  } finally {
    unsubscribe();
    await arden.shutdown();
  }
  return latencies;
}

const round = (value: number) => Math.round(value * 1000) / 1000;
