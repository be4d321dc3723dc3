import type { Benchmark } from '../types.ts';
import { policyEval } from './policy-eval.ts';
import { usageClient } from './usage-client.ts';

/** Every benchmark, in the order the runner runs them. */
export const benchmarks: Benchmark[] = [policyEval, usageClient];
