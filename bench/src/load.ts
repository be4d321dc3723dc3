import { Agent, request } from 'node:http';

/** Options of a closed-loop load run. */
export interface LoadOptions {
  url: string;
  path: string;
  /** Request bodies, used in turn. */
  bodies: string[];
  headers?: Record<string, string>;
  /** Concurrent keep-alive connections, each with one request in flight. */
  connections: number;
  durationMs: number;
}

/** Result of a load run. */
export interface LoadResult {
  requests: number;
  errors: number;
  perSecond: number;
  statuses: Record<number, number>;
}

/**
 * A closed-loop load generator: `connections` keep-alive connections each send a request as
 * soon as the previous answer arrives, for `durationMs`. Counts answered requests per second.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const target = new URL(options.path, options.url);
  const deadline = performance.now() + options.durationMs;
  const statuses: Record<number, number> = {};
  let requests = 0;
  let errors = 0;
  let next = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const body = options.bodies[next++ % options.bodies.length] as string;
      const outgoing = request(
        target,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...options.headers,
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => {
            statuses[response.statusCode ?? 0] = (statuses[response.statusCode ?? 0] ?? 0) + 1;
            if ((response.statusCode ?? 0) >= 400) errors++;
            requests++;
            resolve();
          });
        },
      );
      outgoing.on('error', () => {
        errors++;
        resolve();
      });
      outgoing.end(body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (performance.now() < deadline) await one();
    }),
  );
  const elapsed = performance.now() - started;
  agent.destroy();
  return { requests, errors, perSecond: Math.round((requests / elapsed) * 1000), statuses };
}
