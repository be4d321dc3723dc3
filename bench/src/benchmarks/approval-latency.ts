import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArden } from '@arden/core';
import { createServer } from '@arden/server';
import { summarize } from '../stats.ts';
import { type Benchmark, ratio } from '../types.ts';

/**
 * From the admin's approve call returning to the guarded tool's body starting (one server,
 * embedded store; the agent waits by long-poll over HTTP). Baseline: ardenpy's fixed 2 s poll
 * interval, whose expected wait is 1 s — computed, not slept, to keep the run short.
 */
export const approvalLatency: Benchmark = {
  name: 'approval-latency',
  description: 'Approve → tool body starts (long-poll), one server',
  async run({ smoke, log }) {
    const trials = smoke ? 20 : 500;
    const dataDir = mkdtempSync(join(tmpdir(), 'arden-bench-'));
    const server = await createServer({ dataDir, logLevel: 'error', host: '127.0.0.1' });
    try {
      const url = await server.listen(0);
      const agent = await server.agents.createAgent({
        name: 'bench',
        defaultAction: 'allow',
        webhookUrl: null,
      });
      const { key } = await server.agents.createKey(agent.id, 'live');
      await server.policies.saveSet(agent.id, 'live', [
        { name: 'refunds', tool: 'stripe.issue_refund', action: 'requires_approval' },
      ]);
      const arden = createArden({ apiKey: key, apiUrl: url, logLevel: 'error' });
      let bodyStarted = 0;
      const refund = arden.guardTool('stripe.issue_refund', async (_input: { amount: number }) => {
        bodyStarted = performance.now();
      });
      let held = Promise.withResolvers<string>();
      const unsubscribe = server.events.subscribe((event) => {
        if (event.type === 'action.created' && event.action.status === 'pending')
          held.resolve(event.action.id);
      });
      const latencies: number[] = [];
      log(`${trials} approvals`);
      for (let trial = 0; trial < trials; trial++) {
        const call = refund({ amount: trial });
        const actionId = await held.promise;
        held = Promise.withResolvers<string>();
        // Let the agent's long-poll arrive at the server before approving.
        await new Promise((resolve) => setTimeout(resolve, 2));
        await server.approvals.decide(actionId, { decision: 'approve', userId: null, notes: null });
        const approvedAt = performance.now();
        await call;
        latencies.push(bodyStarted - approvedAt);
      }
      unsubscribe();
      await arden.shutdown();
      const summary = summarize(latencies);
      const ardenpyMean = 1000;
      return {
        name: 'approval-latency',
        measurements: [
          {
            metric: 'approve → tool body, p50',
            value: round(summary.p50),
            unit: 'ms',
            baseline: { name: 'ardenpy 2 s poll (mean)', value: ardenpyMean },
            ratio: ratio(summary.p50, ardenpyMean),
            goal: 'p50 ≤ 2 ms',
            met: summary.p50 <= 2,
          },
          {
            metric: 'approve → tool body, p99',
            value: round(summary.p99),
            unit: 'ms',
            baseline: { name: 'ardenpy 2 s poll (mean)', value: ardenpyMean },
            ratio: ratio(summary.p99, ardenpyMean),
            goal: 'p99 ≤ 10 ms',
            met: summary.p99 <= 10,
          },
        ],
        notes: [
          `${trials} trials; across replicas (PostgreSQL) is measured by the PostgreSQL suite`,
        ],
      };
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

const round = (value: number) => Math.round(value * 1000) / 1000;
