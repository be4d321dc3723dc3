import type { Benchmark } from '../types.ts';
import { adversarialPolicy } from './adversarial-policy.ts';
import { approvalLatency } from './approval-latency.ts';
import { checkOverhead } from './check-overhead.ts';
import { exactJson } from './exact-json.ts';
import { logScale } from './log-scale.ts';
import { mcpGateway } from './mcp-gateway.ts';
import { memory } from './memory.ts';
import { policyEval } from './policy-eval.ts';
import { receipts } from './receipts.ts';
import { throughput } from './throughput.ts';
import { usageClient } from './usage-client.ts';
import { usageIngest } from './usage-ingest.ts';

/** Every benchmark, in the order the runner runs them. */
export const benchmarks: Benchmark[] = [
  checkOverhead,
  throughput,
  receipts,
  approvalLatency,
  policyEval,
  adversarialPolicy,
  exactJson,
  usageClient,
  usageIngest,
  memory,
  logScale,
  mcpGateway,
];
