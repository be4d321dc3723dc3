import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArden } from '@arden/core';
import { startArden, startProcess } from '../processes.ts';
import { summarize, timeEach } from '../stats.ts';
import { type Benchmark, ratio } from '../types.ts';

/**
 * The time `guardTool` adds to an allowed call, against a local server on the embedded store
 * (in its own process), over sequential calls. Baselines from the same run: one bare keep-alive
 * `http.request` round trip to a no-op endpoint of the same server (the fastest Node client),
 * and the ardenpy way — a fresh HTTP client, so a new connection, for every check (here `fetch`
 * with `connection: close`, as ardenpy opens and closes an httpx client per check). For context,
 * the floor: the same no-op round trip with no HTTP client library (a raw socket).
 */
export const checkOverhead: Benchmark = {
  name: 'check-overhead',
  description: 'Time guardTool adds to an allowed call (sequential, embedded store)',
  async run({ smoke, log }) {
    const calls = smoke ? 300 : 5_000;
    const server = await startArden(50);
    try {
      const { url, key } = server.info;
      const body = JSON.stringify({
        tool_name: 'crm3.lookup',
        args: [],
        kwargs: { id: 1 },
        metadata: {},
      });
      const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
      const roundTrip = (path: string, agent: Agent | false, payload?: string, base = url) =>
        new Promise<void>((resolve, reject) => {
          const outgoing = request(
            new URL(path, base),
            {
              method: payload ? 'POST' : 'GET',
              agent,
              headers: payload
                ? {
                    'content-type': 'application/json',
                    'content-length': Buffer.byteLength(payload),
                    'x-api-key': key,
                  }
                : {},
            },
            (response) => {
              response.resume();
              response.on('end', () =>
                response.statusCode === 200
                  ? resolve()
                  : reject(new Error(`status ${response.statusCode}`)),
              );
            },
          );
          outgoing.on('error', reject);
          outgoing.end(payload);
        });

      const arden = createArden({ apiKey: key, apiUrl: url, logLevel: 'error' });
      const lookup = arden.guardTool('crm3.lookup', async (_input: { id: number }) => undefined);
      log('warming up');
      await timeEach(Math.min(500, calls), () => lookup({ id: 1 }));
      await timeEach(Math.min(500, calls), () => roundTrip('/healthz', keepAlive));

      // The keep-alive round trips are interleaved so that drift in machine load affects each
      // alike. The ardenpy way runs in a phase of its own: a new connection per call (closed
      // after it) slows the round trips that follow it on this machine by about 0.1 ms, which
      // would flatter every ratio if it were interleaved with them.
      const floor = await rawSocketClient(url);
      const guarded: number[] = [];
      const bare: number[] = [];
      const raw: number[] = [];
      for (let index = 0; index < calls; index++) {
        let started = performance.now();
        await lookup({ id: index });
        guarded.push(performance.now() - started);
        started = performance.now();
        await roundTrip('/healthz', keepAlive);
        bare.push(performance.now() - started);
        started = performance.now();
        await floor.get('/healthz');
        raw.push(performance.now() - started);
      }
      floor.close();
      log('the floor of a signed, durable check');
      const signed = await signedFloor(Math.ceil(calls / 2), body, (path, payload, base) =>
        roundTrip(path, keepAlive, payload, base),
      );
      log('the ardenpy way');
      const fresh: number[] = [];
      for (let index = 0; index < Math.ceil(calls / 5); index++) {
        const started = performance.now();
        const response = await fetch(`${url}/policy/check`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': key, connection: 'close' },
          body,
        });
        if (response.status !== 200) throw new Error(`check answered ${response.status}`);
        await response.json();
        fresh.push(performance.now() - started);
      }
      await arden.shutdown();
      keepAlive.destroy();
      const g = summarize(guarded);
      const b = summarize(bare);
      const r = summarize(raw);
      const f = summarize(fresh);
      return {
        name: 'check-overhead',
        measurements: [
          {
            metric: 'guardTool allowed call, p50',
            value: round(g.p50),
            unit: 'ms',
            baseline: { name: 'bare keep-alive http.request', value: round(b.p50) },
            ratio: ratio(g.p50, b.p50),
            goal: '≤ 1.3× baseline',
            met: g.p50 <= 1.3 * b.p50,
          },
          {
            metric: 'guardTool allowed call, p99',
            value: round(g.p99),
            unit: 'ms',
            baseline: { name: 'bare keep-alive http.request', value: round(b.p99) },
            ratio: ratio(g.p99, b.p99),
          },
          {
            metric: 'guardTool allowed call against the floor, p50',
            value: round(g.p50),
            unit: 'ms',
            baseline: { name: 'minimal HTTP/1.1 over a raw socket', value: round(r.p50) },
            ratio: ratio(g.p50, r.p50),
          },
          {
            metric: 'floor: parse, sign one receipt, commit one row (no Arden code), p50',
            value: round(signed.both.p50),
            unit: 'ms',
            baseline: {
              name: 'bare keep-alive http.request, same phase',
              value: round(signed.bare.p50),
            },
            ratio: ratio(signed.both.p50, signed.bare.p50),
          },
          {
            metric: 'floor: the commit alone, p50',
            value: round(signed.commit.p50),
            unit: 'ms',
            baseline: {
              name: 'bare keep-alive http.request, same phase',
              value: round(signed.bare.p50),
            },
            ratio: ratio(signed.commit.p50, signed.bare.p50),
          },
          {
            metric: 'floor: the signature alone, p50',
            value: round(signed.sign.p50),
            unit: 'ms',
            baseline: {
              name: 'bare keep-alive http.request, same phase',
              value: round(signed.bare.p50),
            },
            ratio: ratio(signed.sign.p50, signed.bare.p50),
          },
          {
            metric: 'ardenpy way (new connection per check), p50',
            value: round(f.p50),
            unit: 'ms',
            baseline: { name: 'guardTool p50', value: round(g.p50) },
            ratio: ratio(f.p50, g.p50),
            goal: 'Arden ≥ 3× faster',
            met: f.p50 >= 3 * g.p50,
          },
        ],
        notes: [
          `${calls} sequential calls, 50 policies, server in its own process`,
          'the floor: a GET written as one string on a kept-alive socket and its answer read by length',
          'floor of a signed, durable check: a node:http server (fixtures/signed-floor-server.ts) that parses the body, signs one Ed25519 receipt and commits one SQLite row (WAL, synchronous=NORMAL) before answering; its round trips interleaved with bare ones to the same process',
        ],
      };
    } finally {
      await server.stop();
    }
  },
};

const round = (value: number) => Math.round(value * 1000) / 1000;

/**
 * What a check that must be signed and committed before its answer costs with no Arden code at
 * all: sequential round trips to `fixtures/signed-floor-server.ts` (sign + commit, commit alone,
 * sign alone) interleaved with bare `/healthz` round trips to the same process.
 */
async function signedFloor(
  calls: number,
  body: string,
  roundTrip: (path: string, payload: string | undefined, base: string) => Promise<void>,
) {
  const dataDir = mkdtempSync(join(tmpdir(), 'arden-floor-'));
  const server = await startProcess<{ url: string; pid: number }>('signed-floor-server.ts', [
    dataDir,
  ]);
  try {
    const { url } = server.info;
    const paths = ['/sign-commit', '/commit', '/sign', '/healthz'] as const;
    const times: number[][] = paths.map(() => []);
    for (let index = 0; index < 300; index++)
      for (const path of paths) await roundTrip(path, path === '/healthz' ? undefined : body, url);
    for (let index = 0; index < calls; index++) {
      for (const [which, path] of paths.entries()) {
        const started = performance.now();
        await roundTrip(path, path === '/healthz' ? undefined : body, url);
        times[which]!.push(performance.now() - started);
      }
    }
    const [both, commit, sign, bare] = times.map(summarize) as [
      ReturnType<typeof summarize>,
      ReturnType<typeof summarize>,
      ReturnType<typeof summarize>,
      ReturnType<typeof summarize>,
    ];
    return { both, commit, sign, bare };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The floor of a round trip: a GET written as one string on one kept-alive `node:net` socket,
 * its answer read by Content-Length — no HTTP client library at all.
 */
async function rawSocketClient(url: string) {
  const target = new URL(url);
  const socket = connect(Number(target.port), target.hostname);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let pending: ((status: number) => void) | undefined;
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end === -1) return;
    const head = buffered.subarray(0, end).toString('latin1');
    const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (buffered.length < end + 4 + length) return;
    buffered = buffered.subarray(end + 4 + length);
    const resolve = pending;
    pending = undefined;
    resolve?.(Number(head.slice(9, 12)));
  });
  const request = `GET /healthz HTTP/1.1\r\nhost: ${target.host}\r\n\r\n`;
  return {
    get: (_path: '/healthz') =>
      new Promise<void>((resolve, reject) => {
        pending = (status) => (status === 200 ? resolve() : reject(new Error(`status ${status}`)));
        socket.write(request);
      }),
    close: () => socket.destroy(),
  };
}
