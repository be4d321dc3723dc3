import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerConfig } from '../config';
import type { WebhookOptions } from '../webhooks/service';
import { startTestServer, type TestServer } from './harness';

// The helpers of the webhook tests: receivers, servers that send webhooks, and waiting.

/** A webhook receiver on a free port of 127.0.0.1, and what it received. */
export interface Receiver {
  url: string;
  requests: { headers: IncomingMessage['headers']; body: string; at: number }[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];

/** Closes the receivers and servers of this test (call it in `afterEach`). */
export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()?.();
}

/** Runs `cleanup` at `runCleanups`. */
export function onCleanup(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

/** What the receiver answers its `index`th request: a status, a hang, or a delayed answer. */
export type Answer =
  | number
  | 'hang'
  | { status: number; headers: Record<string, string>; delayMs?: number };

/** Starts a receiver that answers each request as `answer` says. */
export async function receiver(answer: (index: number) => Answer): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server: Server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const index = requests.length;
      requests.push({
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
        at: Date.now(),
      });
      const reply = answer(index);
      if (reply === 'hang') return;
      const { status, headers, delayMs } =
        typeof reply === 'number' ? { status: reply, headers: {}, delayMs: 0 } : reply;
      setTimeout(
        () =>
          response.writeHead(status, { 'content-type': 'application/json', ...headers }).end('{}'),
        delayMs ?? 0,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const result = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  cleanups.push(result.close);
  return result;
}

/** A test server whose agent sends webhooks to `webhookUrl` and holds every call. */
export async function serverWith(
  webhookUrl: string,
  webhooks: WebhookOptions,
  config: ServerConfig = {},
): Promise<TestServer> {
  const t = await startTestServer(
    { ...config, webhooks: { pollIntervalMs: 20, ...webhooks } },
    { agent: { webhookUrl, defaultAction: 'requires_approval' } },
  );
  cleanups.push(() => t.close());
  return t;
}

/** Holds one call, approves it, and returns the id of its webhook delivery. */
export async function approveOne(t: TestServer): Promise<string> {
  const held = await t.request('POST', '/policy/check', {
    body: {
      tool_name: 'payments.pay',
      args: ['positional'],
      kwargs: { amount: 5 },
      metadata: null,
    },
  });
  await t.server.approvals.decide(held.json.action_id, {
    decision: 'approve',
    userId: 'alice',
    notes: 'ok',
  });
  const [delivery] = (await t.server.store.webhooks.list({ actionId: held.json.action_id })).items;
  return delivery?.id as string;
}

/** Waits until `condition` holds (polling every 20 ms), or throws after `timeoutMs`. */
export async function until(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
