import type { Benchmark } from '../types.ts';
import { adminReads } from './admin-reads.ts';
import { adversarialCheck } from './adversarial-check.ts';
import { adversarialPolicy } from './adversarial-policy.ts';
import { approvalLatency } from './approval-latency.ts';
import { checkOverhead } from './check-overhead.ts';
import { exactJson } from './exact-json.ts';
import { logScale } from './log-scale.ts';
import { mcpGateway } from './mcp-gateway.ts';
import { mcpHttpGateway } from './mcp-http-gateway.ts';
import { memory } from './memory.ts';
import { modelCallCheck } from './model-call-check.ts';
import { policyEval } from './policy-eval.ts';
import { policyMemory } from './policy-memory.ts';
import { postgresCommit } from './postgres-commit.ts';
import { receipts } from './receipts.ts';
import { throughput } from './throughput.ts';
import { tracingOverhead } from './tracing-overhead.ts';
import { usageClient } from './usage-client.ts';
import { usageIngest } from './usage-ingest.ts';

/** Every benchmark, in the order the runner runs them. */
export const benchmarks: Benchmark[] = [
  checkOverhead,
  throughput,
  postgresCommit,
  receipts,
  approvalLatency,
  policyEval,
  adversarialPolicy,
  adversarialCheck,
  exactJson,
  usageClient,
  usageIngest,
  modelCallCheck,
  memory,
  policyMemory,
  logScale,
  adminReads,
  mcpGateway,
  mcpHttpGateway,
  tracingOverhead,
];
