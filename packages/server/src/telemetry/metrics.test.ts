import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

const scrapeToken = 'scrape-token-0123456789abcdef0123456789abcdef';
let t: AdminTestServer;
let webhookHits = 0;
let receiver: import('node:http').Server;

beforeAll(async () => {
  const { createServer } = await import('node:http');
  receiver = createServer((request, response) => {
    webhookHits++;
    request.resume();
    request.on('end', () => response.writeHead(webhookHits === 1 ? 500 : 204).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as import('node:net').AddressInfo).port;
  const saved = process.env.ARDEN_METRICS_TOKEN;
  process.env.ARDEN_METRICS_TOKEN = scrapeToken;
  try {
    t = await startAdminTestServer({
      webhooks: { pollIntervalMs: 20, retrySchedule: [10, 10, 10], jitter: 0 },
    });
  } finally {
    if (saved === undefined) delete process.env.ARDEN_METRICS_TOKEN;
    else process.env.ARDEN_METRICS_TOKEN = saved;
  }
  await t.server.agents.updateAgent(t.agent.id, { webhookUrl: `http://127.0.0.1:${port}/hook` });
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'Refunds', tool: 'refund', action: 'requires_approval' },
    { name: 'Deletes', tool: 'delete', action: 'block' },
  ]);
});

afterAll(async () => {
  await t?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

async function scrape(token: string | undefined) {
  const response = await fetch(`${t.url}/metrics`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    text: await response.text(),
  };
}

async function check(tool: string) {
  const response = await t.request('POST', '/policy/check', {
    body: { tool_name: tool, args: [], kwargs: {}, metadata: {} },
  });
  expect(response.status).toBe(200);
  return response.json as { action_id: string; decision: string };
}

// parse-prometheus-text-format merges the series of a histogram that has labels besides `le`
// into one (it loses the labels), so histograms are also read with their TYPE line set to
// untyped: then each `_bucket`, `_sum` and `_count` series comes back with its labels.
function family(text: string, name: string, seriesOfHistograms = false) {
  const source = seriesOfHistograms
    ? text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped')
    : text;
  // Read that way, a series name recurs once per label set: gather them.
  const found = parsePrometheusTextFormat(source).filter((entry) => entry.name === name);
  const first = found[0];
  if (!first) throw new Error(`No metric ${name} in:\n${text}`);
  return { ...first, metrics: found.flatMap((entry) => entry.metrics) };
}

function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const histogramSeries = /_(count|sum|bucket)$/.test(name);
  const metric = family(text, name, histogramSeries).metrics.find((entry) =>
    Object.entries(labels).every(([key, value]) => entry.labels?.[key] === value),
  );
  return Number(metric?.value ?? metric?.count ?? Number.NaN);
}

describe('GET /metrics', () => {
  test('refuses a scraper without the scrape token or an admin token', async () => {
    for (const token of [undefined, 'wrong-token', `${scrapeToken}x`, t.liveKey]) {
      const answer = await scrape(token);
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.text).error).toMatch(/ARDEN_METRICS_TOKEN/);
    }
    expect((await scrape(t.tokens.viewer)).status).toBe(200);
  });

  test('counts checks by decision, their latency, pending approvals, decisions, webhooks and usage cost', async () => {
    await check('search');
    await check('search');
    await check('delete');
    const held = await check('refund');
    const waiting = await check('refund');
    const before = await scrape(scrapeToken);
    expect(before.status).toBe(200);
    expect(before.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(
      sample(before.text, 'arden_checks_total', { decision: 'allow', environment: 'live' }),
    ).toBe(2);
    expect(sample(before.text, 'arden_checks_total', { decision: 'block' })).toBe(1);
    expect(sample(before.text, 'arden_checks_total', { decision: 'requires_approval' })).toBe(2);
    expect(family(before.text, 'arden_check_duration_seconds').type).toBe('HISTOGRAM');
    expect(sample(before.text, 'arden_check_duration_seconds_count', { decision: 'allow' })).toBe(
      2,
    );
    expect(
      sample(before.text, 'arden_check_duration_seconds_bucket', { decision: 'allow', le: '+Inf' }),
    ).toBe(2);
    expect(sample(before.text, 'arden_check_duration_seconds_count', { decision: 'block' })).toBe(
      1,
    );
    expect(
      Number(family(before.text, 'arden_store_commit_duration_seconds').metrics[0]?.count),
    ).toBe(5);
    expect(sample(before.text, 'arden_approvals_pending')).toBe(2);
    expect(
      sample(before.text, 'arden_approvals_pending_oldest_age_seconds'),
    ).toBeGreaterThanOrEqual(0);

    const decided = await t.admin('POST', `/api/v1/approvals/${held.action_id}/approve`, {
      as: 'approver',
      body: { notes: 'fine' },
    });
    expect(decided.status).toBe(200);
    const usage = await t.request('POST', '/token-usage', {
      body: { model: 'gpt-5', prompt_tokens: 1_000_000, completion_tokens: 100_000 },
    });
    expect(usage.status).toBe(200);
    // The webhook is refused once (500), then delivered on the retry.
    const deadline = Date.now() + 10_000;
    let after = await scrape(t.tokens.admin);
    // The counter moves when the receiver answers, the queue when the delivery's row is
    // committed (a moment later on PostgreSQL): wait for both.
    while (
      (sample(after.text, 'arden_webhook_deliveries_total', { outcome: 'delivered' }) !== 1 ||
        sample(after.text, 'arden_webhook_queue_depth') !== 0) &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await scrape(t.tokens.admin);
    }
    expect(sample(after.text, 'arden_webhook_deliveries_total', { outcome: 'rejected' })).toBe(1);
    expect(sample(after.text, 'arden_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(sample(after.text, 'arden_webhook_queue_depth')).toBe(0);
    expect(sample(after.text, 'arden_approvals_pending')).toBe(1);
    expect(
      sample(after.text, 'arden_approval_decision_seconds_count', { status: 'approved' }),
    ).toBe(1);
    // gpt-5: $1.25 per million prompt tokens, $10 per million completion tokens.
    expect(sample(after.text, 'arden_usage_cost_usd_total', { model: 'gpt-5' })).toBeCloseTo(
      2.25,
      6,
    );
    expect(waiting.decision).toBe('requires_approval');
  });
});
