/**
 * `@arden/server/testing`: a real Arden server for end-to-end tests — the adapters' own, and
 * yours. It listens on a free port of 127.0.0.1 with a temporary data directory and one agent,
 * and lets the test decide held calls and read what was logged.
 *
 * ```ts
 * const arden = await startTestServer({
 *   policies: [{ name: 'Refunds need a human', tool: 'refund', action: 'requires_approval' }],
 * });
 * configure({ apiKey: arden.key, apiUrl: arden.url });
 * ```
 *
 * The server needs `node:sqlite` (Node.js ≥ 22.13). On an older Node.js — the adapters' suites
 * run on Node.js 20 too — it runs in a child process on a Node.js that has it, with the same
 * helpers, so the test itself is the same on both.
 */
import { hasSqlite } from './store/sqlite-module';
import { startInChildProcess } from './testing/child-process';
import { startInProcess } from './testing/in-process';
import type { TestServer, TestServerOptions } from './testing/types';

export { ServerNodeNotFoundError, serverNodeVariable } from './testing/server-node';
export type {
  TestServer,
  TestServerBudget,
  TestServerFilter,
  TestServerMode,
  TestServerOptions,
} from './testing/types';

/**
 * Starts a real Arden server for a test, on a free port of 127.0.0.1, with a temporary data
 * directory, one agent with a key, and `policies`. Call `close()` when the test is done.
 *
 * It runs in this process when this Node.js has `node:sqlite` (≥ 22.13), else in a child process
 * on one that has (`ARDEN_SERVER_NODE`, the checkout's `.tools/node_modules/.bin/node`, or a
 * `node` on `PATH`); `options.mode` forces either. Throws `ServerNodeNotFoundError`, naming what
 * to install, when no such Node.js is found.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { mode = 'auto', ...rest } = options;
  const inProcess = mode === 'in-process' || (mode === 'auto' && hasSqlite());
  return inProcess ? startInProcess(rest) : startInChildProcess(rest);
}
