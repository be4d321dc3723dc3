import { runLoad } from '../load.ts';
import { startArden, startBare } from '../processes.ts';
import { type Benchmark, ratio } from '../types.ts';

/**
 * Usage events the server ingests per second in batches of 100 (each batch committed before
 * its answer), 16 keep-alive clients. Baseline: the bare node:http server reading the same
 * bodies.
 */
export const usageIngest: Benchmark = {
  name: 'usage-ingest',
  description: 'Usage events per second the server ingests in batches',
  async run({ smoke }) {
    const durationMs = smoke ? 1_000 : 10_000;
    const batchSize = 100;
    const models = ['gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-5', 'gemini-2.5-flash'];
    const bodies = Array.from({ length: 20 }, (_, batch) =>
      JSON.stringify({
        events: Array.from({ length: batchSize }, (_, index) => ({
          model: models[(batch + index) % models.length],
          prompt_tokens: 100 + index,
          completion_tokens: 20 + index,
          session_id: `session-${batch}`,
        })),
      }),
    );
    const bare = await startBare();
    let bareEvents: number;
    try {
      bareEvents =
        (
          await runLoad({
            url: bare.info.url,
            path: '/token-usage',
            bodies,
            connections: 16,
            durationMs,
          })
        ).perSecond * batchSize;
    } finally {
      await bare.stop();
    }
    const arden = await startArden(0);
    try {
      const headers = { 'x-api-key': arden.info.key };
      const result = await runLoad({
        url: arden.info.url,
        path: '/token-usage',
        bodies,
        headers,
        connections: 16,
        durationMs,
      });
      if (result.errors > 0)
        throw new Error(`usage ingest answered errors: ${JSON.stringify(result.statuses)}`);
      const events = result.perSecond * batchSize;
      return {
        name: 'usage-ingest',
        measurements: [
          {
            metric: 'usage events ingested per second (batches of 100)',
            value: events,
            unit: '/s',
            baseline: { name: 'bare node:http reading the same bodies', value: bareEvents },
            ratio: ratio(events, bareEvents),
            goal: '≥ 50 000 /s',
            met: events >= 50_000,
          },
        ],
      };
    } finally {
      await arden.stop();
    }
  },
};
