// The server's side of `startTestServer()` in 'child-process' mode: started by
// `testing/child-process.ts` on a Node.js that has node:sqlite, with an IPC channel. It starts
// the test server in this process as the parent asked and runs the helpers the parent calls.
// When the channel closes (the test process closed it, ended or died) the server stops and its
// temporary data directory is deleted, so no server outlives its test.
import { startInProcess } from './in-process';
import type { TestServer, TestServerOptions } from './types';
import { decode, encode, type FromServer, type ToServer, toWireError } from './wire';

let testServer: TestServer | undefined;
let closing: Promise<void> | undefined;

function send(message: FromServer): void {
  // The parent may be gone already; then there is no one to answer.
  process.send?.(message, undefined, {}, () => undefined);
}

function close(): Promise<void> {
  closing ??= testServer === undefined ? Promise.resolve() : testServer.close();
  return closing;
}

async function start(options: TestServerOptions): Promise<void> {
  try {
    testServer = await startInProcess(options);
    const { url, dataDir, agentId, key, environment } = testServer;
    send({ kind: 'started', server: encode({ url, dataDir, agentId, key, environment }) });
  } catch (error) {
    send({ kind: 'error', error: toWireError(error) });
  }
}

async function call(message: Extract<ToServer, { kind: 'call' }>): Promise<void> {
  try {
    if (testServer === undefined) throw new Error('The test server has not started.');
    const args = decode(message.args) as unknown[];
    const value =
      message.helper === 'close'
        ? await close()
        : await (testServer[message.helper] as (...args: unknown[]) => Promise<unknown>)(...args);
    send({ kind: 'result', id: message.id, value: encode(value ?? null) });
  } catch (error) {
    send({ kind: 'error', id: message.id, error: toWireError(error) });
  }
}

if (process.send === undefined) {
  process.stderr.write(
    'This is the Arden test server\'s child process: startTestServer({ mode: "child-process" }) starts it with an IPC channel. To run a server, use `arden start`.\n',
  );
  process.exitCode = 1;
} else {
  // stdout and stderr are pipes to the test process: once it is gone, writing to them fails
  // (EPIPE), which must not stop the shutdown that deletes the data directory.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  process.on('message', (message: ToServer) => {
    if (message.kind === 'start') void start(decode(message.options) as TestServerOptions);
    else void call(message);
  });
  process.on('disconnect', () => {
    void close()
      .catch(() => undefined)
      .then(() => process.exit(0));
  });
}
