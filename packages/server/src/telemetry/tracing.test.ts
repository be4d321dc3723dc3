import { Arden } from '@arden/core';
import { OtlpReceiver, type ReceivedSpan } from '@arden/otlp-receiver';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../testing';

// The agent (this process, @arden/core) and the server (a child process) both export over
// OTLP/HTTP to one local receiver, which decodes what arrives; the test then checks that the
// server's spans are children of the agent's, across the two processes.
const receiver = new OtlpReceiver();
let provider: TracerProvider;
let arden: Arden;
let server: TestServer;
const savedEnv = { ...process.env };

beforeAll(async () => {
  const url = await receiver.start();
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = url;
  process.env.OTEL_SERVICE_NAME = 'arden-server-under-test';
  process.env.OTEL_BSP_SCHEDULE_DELAY = '50';
  server = await startTestServer({
    mode: 'child-process',
    policies: [
      { name: 'Refunds need a human', tool: 'payments.refund', action: 'requires_approval' },
      { name: 'No deletes', tool: 'files.delete', action: 'block' },
    ],
  });
  process.env = { ...savedEnv };
  provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'support-agent' }),
    spanProcessors: [
      new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${url}/v1/traces` }) }),
    ],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  arden = new Arden({ apiKey: server.key, apiUrl: server.url, pollIntervalMs: 50 });
}, 60_000);

afterAll(async () => {
  await arden?.shutdown();
  await server?.close();
  await provider?.shutdown();
  trace.disable();
  context.disable();
  await receiver.close();
  process.env = savedEnv;
});

function one(spans: ReceivedSpan[], predicate: (span: ReceivedSpan) => boolean): ReceivedSpan {
  const found = spans.filter(predicate);
  expect(found, `spans: ${spans.map((span) => span.name).join(', ')}`).toHaveLength(1);
  return found[0] as ReceivedSpan;
}

describe('OpenTelemetry across the agent and the server', () => {
  test("a held call's trace: the agent's execute_tool span, the server's request, evaluation, commit and the approval, in one trace", async () => {
    const refund = arden.guardTool('payments.refund', async (input: { amount: number }) => ({
      refunded: input.amount,
    }));
    const tracer = trace.getTracer('support-agent');
    const turn = tracer.startActiveSpan('agent.turn', async (span) => {
      try {
        return await refund({ amount: 42 });
      } finally {
        span.end();
      }
    });
    const held = await server.nextPending({ toolName: 'payments.refund' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await server.approve(held.id, 'ok');
    expect(await turn).toEqual({ refunded: 42 });
    await provider.forceFlush();
    await receiver.waitFor('arden.approval.decide');
    await receiver.waitFor('arden.store.commit');

    const spans = receiver.spans;
    const root = one(spans, (span) => span.name === 'agent.turn');
    const tool = one(spans, (span) => span.name === 'execute_tool payments.refund');
    const check = one(
      spans,
      (span) => span.name === 'arden.check' && span.attributes['arden.action_id'] === held.id,
    );
    const request = one(
      spans,
      (span) =>
        span.name === 'POST /policy/check' && span.attributes['arden.action_id'] === held.id,
    );
    // Every span of the call is in the agent's trace.
    for (const span of [tool, check, request]) expect(span.traceId).toBe(root.traceId);
    expect(tool.parentSpanId).toBe(root.spanId);
    expect(check.parentSpanId).toBe(tool.spanId);
    // The server's span, exported by the other process, is the child of the agent's client span.
    expect(request.service).toBe('arden-server-under-test');
    expect(tool.service).toBe('support-agent');
    expect(request.parentSpanId).toBe(check.spanId);
    expect(request.kind).toBe(2); // OTLP SPAN_KIND_SERVER
    expect(check.kind).toBe(3); // OTLP SPAN_KIND_CLIENT

    const evaluation = one(
      spans,
      (span) => span.name === 'arden.policy.evaluate' && span.parentSpanId === request.spanId,
    );
    expect(evaluation.attributes).toMatchObject({
      'arden.decision': 'requires_approval',
      'arden.policy': 'Refunds need a human',
    });
    one(
      spans,
      (span) => span.name === 'arden.store.commit' && span.parentSpanId === request.spanId,
    );
    const decision = one(spans, (span) => span.name === 'arden.approval.decide');
    expect(decision.traceId).toBe(root.traceId);
    expect(decision.parentSpanId).toBe(request.spanId);
    expect(decision.attributes).toMatchObject({
      'arden.action_id': held.id,
      'arden.approval.status': 'approved',
    });
    // The long-poll requests of the wait are children of the tool's span.
    const polls = spans.filter((span) => span.name === 'GET /status/:actionId');
    expect(polls.length).toBeGreaterThan(0);
    for (const poll of polls) expect(poll.parentSpanId).toBe(tool.spanId);

    // GenAI semantic conventions and Arden's attributes on the agent's span.
    expect(tool.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'payments.refund',
      'arden.decision': 'requires_approval',
      'arden.action_id': held.id,
      'arden.policy': 'Refunds need a human',
    });
    expect(Number(tool.attributes['arden.approval.wait_ms'])).toBeGreaterThanOrEqual(100);
    const waited = tool.events.find((event) => event.name === 'arden.approval.decided');
    expect(waited?.attributes['arden.approval.status']).toBe('approved');
    expect(tool.status.code).not.toBe(2);
    expect(request.attributes['http.response.status_code']).toBe(200);
  });

  test('a blocked call sets the error status on its spans', async () => {
    const remove = arden.guardTool('files.delete', async (_path: string) => 'deleted');
    await expect(remove('/etc/passwd')).rejects.toThrow(/blocked/);
    await provider.forceFlush();
    const tool = await receiver.waitFor('execute_tool files.delete');
    expect(tool.status.code).toBe(2); // OTLP STATUS_CODE_ERROR
    expect(tool.attributes['arden.decision']).toBe('block');
    expect(tool.attributes['arden.policy']).toBe('No deletes');
    const check = one(
      receiver.spans,
      (span) => span.name === 'arden.check' && span.parentSpanId === tool.spanId,
    );
    expect(check.attributes['arden.decision']).toBe('block');
    expect(check.status.code).toBe(2);
  });
});
