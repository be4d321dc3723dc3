// Makes docs/images/held-call-trace.svg: one held call traced end to end. The agent (this
// process, @arden/core with an OpenTelemetry SDK) and an Arden server (its own process, with
// OTEL_EXPORTER_OTLP_ENDPOINT set) both export over OTLP/HTTP to a local receiver; the spans it
// decodes are drawn as a timeline by trace-svg.ts. Nothing is drawn by hand.
//   node bench/src/trace-picture.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { createArden } from '@arden/core';
import { startTestServer } from '@arden/server/testing';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OtlpReceiver } from '../../tools/otlp-receiver/src/index.ts';
import { renderTraceSvg } from './trace-svg.ts';

const receiver = new OtlpReceiver();
const url = await receiver.start();
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = url;
process.env.OTEL_SERVICE_NAME = 'arden-server';
process.env.OTEL_BSP_SCHEDULE_DELAY = '50';
const server = await startTestServer({
  mode: 'child-process',
  policies: [
    { name: 'Refunds need a human', tool: 'payments.refund', action: 'requires_approval' },
  ],
});
delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'support-agent' }),
  spanProcessors: [
    new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${url}/v1/traces` }) }),
  ],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
const arden = createArden({ apiKey: server.key, apiUrl: server.url, logLevel: 'error' });
const refund = arden.guardTool('payments.refund', async (input: { amount: number }) => {
  await new Promise((resolve) => setTimeout(resolve, 40)); // the refund itself
  return { refunded: input.amount };
});
const turn = trace.getTracer('support-agent').startActiveSpan('agent turn', async (span) => {
  try {
    return await refund({ amount: 42 });
  } finally {
    span.end();
  }
});
const held = await server.nextPending({ toolName: 'payments.refund' });
await new Promise((resolve) => setTimeout(resolve, 1_200)); // the approver reads the request
await server.approve(held.id, 'ok');
await turn;
await arden.shutdown();
await server.close();
await provider.forceFlush();
await new Promise((resolve) => setTimeout(resolve, 300));
const root = receiver.spans.find((span) => span.name === 'agent turn');
const spans = receiver.spans.filter((span) => span.traceId === root?.traceId);
const file = new URL('../../docs/images/held-call-trace.svg', import.meta.url);
writeFileSync(
  file,
  renderTraceSvg(spans, `One held call, traced: ${spans.length} spans from 2 processes`),
);
mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('../results/held-call-trace.json', import.meta.url),
  JSON.stringify(spans, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2),
);
console.log(`${spans.length} spans → ${file.pathname}`);
await provider.shutdown();
await receiver.close();
