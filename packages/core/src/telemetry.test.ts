import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import { Arden } from './arden';
import { PolicyDeniedError } from './errors';
import { tracingOn } from './telemetry';
import { createTestArden } from './test/index';

// One file, in order: first without OpenTelemetry registered, then with it.
function recordingArden(decisions: Record<string, 'allow' | 'block' | 'requires_approval'>) {
  const server = createTestArden({ decisions });
  const headers: Record<string, string>[] = [];
  const options = server.options();
  const arden = new Arden({
    ...options,
    fetch: async (input, init) => {
      headers.push({ ...(init?.headers as Record<string, string>) });
      return options.fetch(input, init);
    },
  });
  return { server, arden, headers };
}

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
});

afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

describe('OpenTelemetry in the agent process', () => {
  it('without a registered OpenTelemetry, checks send no trace context and trace nothing', async () => {
    expect(tracingOn()).toBe(false);
    const { arden, headers } = recordingArden({ search: 'allow' });
    const search = arden.guardTool('search', async (query: string) => `found ${query}`);
    expect(await search('cats')).toBe('found cats');
    expect(headers.length).toBeGreaterThan(0);
    for (const sent of headers) expect(sent.traceparent).toBeUndefined();
    await arden.shutdown();
  });

  it('with it, a guarded call is an execute_tool span whose check carries its traceparent', async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    expect(tracingOn()).toBe(true);
    const { arden, headers } = recordingArden({ search: 'allow' });
    const search = arden.guardTool('search', async (query: string) => `found ${query}`, {
      metadata: { tool_call_id: 'call_7' },
    });
    const result = await trace.getTracer('test').startActiveSpan('turn', async (span) => {
      try {
        return await search('dogs');
      } finally {
        span.end();
      }
    });
    expect(result).toBe('found dogs');
    const spans = exporter.getFinishedSpans();
    const turn = spans.find((span) => span.name === 'turn');
    const tool = spans.find((span) => span.name === 'execute_tool search');
    const check = spans.find((span) => span.name === 'arden.check');
    expect(tool?.parentSpanContext?.spanId).toBe(turn?.spanContext().spanId);
    expect(check?.parentSpanContext?.spanId).toBe(tool?.spanContext().spanId);
    expect(tool?.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'search',
      'gen_ai.tool.call.id': 'call_7',
      'arden.decision': 'allow',
    });
    expect(String(tool?.attributes['arden.action_id'])).not.toBe('');
    const checkContext = check?.spanContext();
    const sent = headers.find((entry) => entry.traceparent !== undefined);
    expect(sent?.traceparent).toBe(`00-${checkContext?.traceId}-${checkContext?.spanId}-01`);
    await arden.shutdown();
  });

  it('a denied held call records its wait as an event and sets the error status', async () => {
    exporter.reset();
    const { server, arden } = recordingArden({ refund: 'requires_approval' });
    const refund = arden.guardTool('refund', async (amount: number) => amount);
    const call = refund(5);
    const rejected = expect(call).rejects.toBeInstanceOf(PolicyDeniedError);
    for (let tries = 0; server.checks.length === 0 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    server.deny(server.checks[0]?.actionId as string, 'no');
    await rejected;
    const tool = exporter.getFinishedSpans().find((span) => span.name === 'execute_tool refund');
    expect(tool?.status.code).toBe(SpanStatusCode.ERROR);
    expect(tool?.attributes['arden.decision']).toBe('requires_approval');
    expect(typeof tool?.attributes['arden.approval.wait_ms']).toBe('number');
    const event = tool?.events.find((entry) => entry.name === 'arden.approval.decided');
    expect(event?.attributes?.['arden.approval.status']).toBe('denied');
    await arden.shutdown();
  });
});
