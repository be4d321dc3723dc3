import type { Benchmark } from '../types.ts';
import { usageClient } from './usage-client.ts';

/** Every benchmark, in the order the runner runs them. */
export const benchmarks: Benchmark[] = [usageClient];
