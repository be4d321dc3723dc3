import { parseExactJson, parseExactJsonMembers } from '@arden/policy';
import { type Benchmark, type Measurement, ratio } from '../types.ts';

// A check body as @arden/core and ardenpy send it: a refund with a few keyword arguments.
const typicalBody = JSON.stringify({
  tool_name: 'stripe.issue_refund',
  args: [],
  kwargs: {
    amount: 125.5,
    currency: 'usd',
    customer_id: 'cus_9s8d7f6g5h',
    reason: 'duplicate charge',
    order_ids: [1001, 1002, 1003],
    notify: true,
  },
  metadata: { session_id: 'sess_1234', agent: 'support-bot' },
});

// The body limit's worth of arguments (1 MiB): numbers, strings with escapes, nesting.
function largeBody(): string {
  const items = [];
  for (let index = 0; items.length < 9_000; index++) {
    items.push({ id: 12345678901234567000 + index, price: index / 7, name: `café ${index} \n 😀` });
  }
  return JSON.stringify({ tool_name: 'bulk', args: [], kwargs: { items } });
}

/**
 * The server reads a check body with `parseExactJsonMembers` (exact integers for the policy, the
 * arguments' text kept byte for byte) instead of `JSON.parse`. Baseline: `JSON.parse` of the same
 * text, in the same run.
 */
export const exactJson: Benchmark = {
  name: 'exact-json',
  description: 'Lossless JSON parsing of a check body against JSON.parse',
  async run({ smoke }) {
    const measurements: Measurement[] = [];
    for (const [label, text, rounds] of [
      ['typical check body', typicalBody, smoke ? 2_000 : 300_000],
      ['1 MiB body', largeBody(), smoke ? 3 : 100],
    ] as const) {
      const native = timeEach(rounds, () => JSON.parse(text));
      const exact = timeEach(rounds, () => parseExactJsonMembers(text));
      parseExactJson(text);
      measurements.push({
        metric: `${label} (${text.length.toLocaleString('en')} characters), mean`,
        value: round(exact),
        unit: 'µs',
        baseline: { name: 'JSON.parse', value: round(native) },
        ratio: ratio(exact, native),
        ...(label === 'typical check body' ? { goal: '≤ 5 µs', met: exact <= 5 } : {}),
      });
    }
    return {
      name: 'exact-json',
      measurements,
      notes: ['parseExactJsonMembers: values with exact integers, plus each member’s source text'],
    };
  },
};

function timeEach(rounds: number, run: () => unknown): number {
  for (let index = 0; index < Math.min(rounds, 10_000); index++) run();
  const started = performance.now();
  for (let index = 0; index < rounds; index++) run();
  return ((performance.now() - started) * 1000) / rounds;
}

function round(value: number): number {
  return Number(value.toPrecision(3));
}
