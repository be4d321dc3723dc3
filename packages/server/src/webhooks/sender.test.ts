import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { createWebhookSender } from './sender';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A receiver that counts the requests it gets and answers 200. */
async function receiver() {
  let requests = 0;
  const server = createServer((request, response) => {
    requests += 1;
    request.resume();
    request.on('end', () => response.end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    requests: () => requests,
  };
}

test('a send whose signal is already aborted (the server closing) is cancelled, and its ended request raises nothing uncaught', async () => {
  const hook = await receiver();
  const uncaught: unknown[] = [];
  const note = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', note);
  try {
    const send = createWebhookSender({ allowPrivate: true });
    await expect(
      send({
        url: hook.url,
        headers: {},
        body: '{}',
        timeoutMs: 2_000,
        signal: AbortSignal.abort(),
      }),
    ).rejects.toMatchObject({ kind: 'aborted' });
    // Destroying a request emits its error on a later tick (before the fix: "socket hang up",
    // with nobody listening: an uncaught exception that ends the server).
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off('uncaughtException', note);
  }
  expect(uncaught).toEqual([]);
  // And a send that is not cancelled still arrives.
  const send = createWebhookSender({ allowPrivate: true });
  expect((await send({ url: hook.url, headers: {}, body: '{}', timeoutMs: 2_000 })).status).toBe(
    200,
  );
  expect(hook.requests()).toBe(1);
});
