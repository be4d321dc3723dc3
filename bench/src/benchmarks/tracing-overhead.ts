import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createArden } from '@arden/core';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { AlwaysOnSampler, BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { startArden } from '../processes.ts';
import { summarize } from '../stats.ts';
import { type Benchmark, ratio } from '../types.ts';

/**
 * What OpenTelemetry costs a check. Two servers on the embedded store, in their own processes:
 * one without the OTLP variables, one exporting its spans (sampler 1.0) to a local OTLP/HTTP sink.
 * The agent alternates blocks of calls with tracing off (no OpenTelemetry registered: core does
 * one property read per call) against the first, and on (a registered provider, always-on
 * sampler, batch export to the sink) against the second. Also: the per-call cost of the
 * "is OpenTelemetry there?" test itself, against the call.
 */
export const tracingOverhead: Benchmark = {
  name: 'tracing-overhead',
  description: 'guardTool with OpenTelemetry off and on (sampler 1.0), same run',
  async run({ smoke, log }) {
    const blocks = smoke ? 4 : 30;
    const perBlock = smoke ? 50 : 100;
    let spansReceived = 0;
    const sink = createServer((request, response) => {
      let size = 0;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
      });
      request.on('end', () => {
        spansReceived += size > 0 ? 1 : 0;
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    const plain = await startArden(50);
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = sinkUrl;
    process.env.OTEL_TRACES_SAMPLER = 'always_on';
    const traced = await startArden(50).finally(() => {
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      delete process.env.OTEL_TRACES_SAMPLER;
    });
    const provider = new TracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url: `${sinkUrl}/v1/traces` }),
        }),
      ],
    });
    const contextManager = new AsyncLocalStorageContextManager();
    try {
      const off = createArden({
        apiKey: plain.info.key,
        apiUrl: plain.info.url,
        logLevel: 'error',
      });
      const on = createArden({
        apiKey: traced.info.key,
        apiUrl: traced.info.url,
        logLevel: 'error',
      });
      const lookupOff = off.guardTool('crm3.lookup', async (_input: { id: number }) => undefined);
      const lookupOn = on.guardTool('crm3.lookup', async (_input: { id: number }) => undefined);
      const enable = () => {
        context.setGlobalContextManager(contextManager.enable());
        trace.setGlobalTracerProvider(provider);
      };
      const disable = () => {
        trace.disable();
        context.disable();
      };
      log('warming up');
      for (let index = 0; index < 300; index++) await lookupOff({ id: index });
      enable();
      for (let index = 0; index < 300; index++) await lookupOn({ id: index });
      disable();
      const timesOff: number[] = [];
      const timesAgent: number[] = [];
      const timesOn: number[] = [];
      const timeBlock = async (lookup: typeof lookupOff, into: number[]) => {
        for (let index = 0; index < perBlock; index++) {
          const started = performance.now();
          await lookup({ id: index });
          into.push(performance.now() - started);
        }
      };
      for (let block = 0; block < blocks; block++) {
        await timeBlock(lookupOff, timesOff);
        enable();
        // The agent traced, against the server that is not: what the agent's side costs alone.
        await timeBlock(lookupOff, timesAgent);
        await timeBlock(lookupOn, timesOn);
        disable();
      }
      // The test core makes on every call when no tracer provider is registered.
      const key = Symbol.for('opentelemetry.js.api.1');
      const probes = 10_000_000;
      let found = 0;
      const probeStarted = performance.now();
      for (let index = 0; index < probes; index++) {
        const registry = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[key];
        if (registry?.trace !== undefined) found++;
      }
      const probeMs = (performance.now() - probeStarted) / probes;
      enable();
      await provider.forceFlush();
      disable();
      await off.shutdown();
      await on.shutdown();
      const offStats = summarize(timesOff);
      const agentStats = summarize(timesAgent);
      const onStats = summarize(timesOn);
      return {
        name: 'tracing-overhead',
        measurements: [
          {
            metric: 'guardTool allowed call, agent traced, server not, p50',
            value: round(agentStats.p50),
            unit: 'ms',
            baseline: { name: 'tracing off, p50', value: round(offStats.p50) },
            ratio: ratio(agentStats.p50, offStats.p50),
          },
          {
            metric: 'guardTool allowed call, agent and server traced (sampler 1.0), p50',
            value: round(onStats.p50),
            unit: 'ms',
            baseline: { name: 'tracing off, p50', value: round(offStats.p50) },
            ratio: ratio(onStats.p50, offStats.p50),
          },
          {
            metric: 'guardTool allowed call, agent and server traced (sampler 1.0), p99',
            value: round(onStats.p99),
            unit: 'ms',
            baseline: { name: 'tracing off, p99', value: round(offStats.p99) },
            ratio: ratio(onStats.p99, offStats.p99),
          },
          {
            metric: 'the "is OpenTelemetry there?" test per call (tracing off)',
            value: Number((probeMs * 1e6).toPrecision(3)),
            unit: 'ns',
            baseline: { name: 'guardTool p50, tracing off', value: round(offStats.p50 * 1e6) },
            ratio: ratio(probeMs, offStats.p50),
            goal: 'no measurable change (< 0.1 % of a check)',
            met: probeMs < offStats.p50 * 0.001 && found === 0,
          },
        ],
        notes: [
          `${blocks} blocks of ${perBlock} calls each way, alternating; 50 policies; servers in their own processes`,
          `tracing on: the agent's execute_tool and arden.check spans and the server's request, evaluation and commit spans, batch-exported over OTLP/HTTP JSON to a local sink (${spansReceived} exports received)`,
        ],
      };
    } finally {
      await provider.shutdown().catch(() => undefined);
      await plain.stop();
      await traced.stop();
      await new Promise((resolve) => sink.close(resolve));
    }
  },
};

const round = (value: number) => Math.round(value * 1000) / 1000;
