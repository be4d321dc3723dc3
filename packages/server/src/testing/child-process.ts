import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../errors';
import type { ArdenServer } from '../server';
import type { ActionRecord, UsageRecord } from '../store';
import { findServerNode, moduleDirectory } from './server-node';
import type { TestServer, TestServerHelper, TestServerOptions } from './types';
import { decode, encode, type FromServer, fromWireError, type ToServer } from './wire';

const startTimeoutMs = 30_000;
const exitTimeoutMs = 10_000;

/** The built child script: beside this module in `dist/`, or in `dist/` under this package's own tests. */
function childScript(): string {
  const here = moduleDirectory();
  const candidates = [
    join(here, 'testing-child.js'),
    join(here, '..', '..', 'dist', 'testing-child.js'),
  ];
  const script = candidates.find((candidate) => existsSync(candidate));
  if (script === undefined) {
    throw new Error(
      `The test server's child script is missing (looked for ${candidates.join(' and ')}). Build @arden/server first: pnpm turbo run build --filter @arden/server.`,
    );
  }
  return script;
}

/** Paths of the functions in `value`, such as `config.logger`: they cannot reach the child. */
function functionsIn(value: unknown, path: string, found: string[] = []): string[] {
  if (typeof value === 'function') found.push(path);
  else if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) functionsIn(item, `${path}[${index}]`, found);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) functionsIn(item, `${path}.${key}`, found);
  }
  return found;
}

/** Why the child ended, with the end of what it wrote on stderr. */
function exitError(node: string, how: string, stderr: string): Error {
  const output = stderr.trim();
  return new Error(
    `The Arden test server's process (${node}) ${how}.${output === '' ? '' : ` Its last output:\n${output}`}`,
  );
}

/**
 * `startTestServer()` in a child process on a Node.js that has `node:sqlite`: the child
 * (`testing/child.ts`) starts the server and runs the helpers; each helper here sends its call
 * over the IPC channel and resolves with the child's answer.
 */
export async function startInChildProcess(options: TestServerOptions): Promise<TestServer> {
  const functions = functionsIn(options, 'options');
  if (functions.length > 0) {
    throw new ValidationError(
      `${functions.join(', ')} cannot be passed to a test server in a child process (only plain data crosses over). Leave them out, or run the test on Node.js 22.13 or later so that the server runs in this process.`,
      functions[0],
    );
  }
  const node = findServerNode();
  const child = spawn(node, [childScript()], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    serialization: 'json',
  });
  // The child's logs go to this process's stderr, as an in-process server's would; the end is
  // kept for the message when the child dies.
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
    process.stderr.write(chunk);
  });
  const exited = new Promise<Error>((resolve) => {
    child.once('error', (error) =>
      resolve(exitError(node, `could not start: ${error.message}`, stderr)),
    );
    child.once('exit', (code, signal) =>
      resolve(
        exitError(
          node,
          signal === null ? `exited with code ${code}` : `was killed by ${signal}`,
          stderr,
        ),
      ),
    );
  });
  let ended: Error | undefined;

  // Only a call in flight holds this process open: a test that forgets close() still ends, and
  // the child, seeing its channel close, stops the server and deletes its data.
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const settle = () => {
    if (pending.size === 0) child.channel?.unref();
  };
  let nextId = 0;
  let started: { resolve(server: string): void; reject(error: Error): void } | undefined;
  child.on('message', (message: FromServer) => {
    if (message.kind === 'started') started?.resolve(message.server);
    else if (message.kind === 'error' && message.id === undefined) {
      started?.reject(fromWireError(message.error));
    } else if (message.id !== undefined) {
      const call = pending.get(message.id);
      if (call === undefined) return;
      pending.delete(message.id);
      if (message.kind === 'result') call.resolve(decode(message.value));
      else call.reject(fromWireError(message.error));
      settle();
    }
  });
  void exited.then((error) => {
    ended = error;
    started?.reject(error);
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  });
  child.unref();
  (child.stderr as { unref?: () => void } | null)?.unref?.();

  const send = (message: ToServer) =>
    new Promise<void>((resolve, reject) => {
      child.send(message, (error) => {
        if (!error) return resolve();
        if (ended !== undefined) return reject(ended);
        // The channel closes a moment before the 'exit' event says how the process ended:
        // report that (e.g. "was killed by SIGKILL"), not "Channel closed", unless it never comes.
        const timer = setTimeout(() => reject(error), 1_000);
        void exited.then((exitError) => {
          clearTimeout(timer);
          reject(exitError);
        });
      });
    });

  const call = <T>(helper: TestServerHelper, args: unknown[]): Promise<T> => {
    if (ended !== undefined) return Promise.reject(ended);
    // JSON would turn a trailing `undefined` (an omitted `notes`) into null.
    while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.channel?.ref();
      send({ kind: 'call', id, helper, args: encode(args) }).catch((error: Error) => {
        pending.delete(id);
        settle();
        reject(error);
      });
    });
  };

  let description: Pick<TestServer, 'url' | 'dataDir' | 'agentId' | 'key' | 'environment'>;
  try {
    const server = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `The Arden test server's process (${node}) did not start within ${startTimeoutMs / 1_000} s.`,
            ),
          ),
        startTimeoutMs,
      );
      const stop = () => clearTimeout(timer);
      started = {
        resolve: (value) => {
          stop();
          resolve(value);
        },
        reject: (error) => {
          stop();
          reject(error);
        },
      };
      send({ kind: 'start', options: encode(options) }).catch(started.reject);
    });
    description = decode(server) as typeof description;
  } catch (error) {
    await stopChild(child, exited);
    throw error;
  } finally {
    started = undefined;
  }
  settle();

  let closing: Promise<void> | undefined;
  const testServer: TestServer = {
    ...description,
    // Filled in below: reading it throws.
    server: undefined as unknown as ArdenServer,
    mode: 'child-process',
    pid: child.pid ?? 0,
    nextPending: (filter) => call<ActionRecord>('nextPending', [filter]),
    approve: (actionId, notes, edit) => call<ActionRecord>('approve', [actionId, notes, edit]),
    deny: (actionId, notes) => call<ActionRecord>('deny', [actionId, notes]),
    actions: (filter) => call<ActionRecord[]>('actions', [filter]),
    usage: (filter) => call<UsageRecord[]>('usage', [filter]),
    close() {
      closing ??= (async () => {
        if (ended === undefined) await call<void>('close', []);
        await stopChild(child, exited);
      })();
      return closing;
    },
  };
  // Not enumerable, so that printing or spreading the test server does not throw.
  Object.defineProperty(testServer, 'server', {
    enumerable: false,
    get(): never {
      throw new Error(
        `The test server runs in a child process (${node}, pid ${child.pid}), so its server object is not in this process. Use the helpers (nextPending, approve, deny, actions, usage) or the HTTP API at ${description.url}; for the object itself, run the test on Node.js 22.13 or later without mode: 'child-process'.`,
      );
    },
  });
  return testServer;
}

/** Closes the channel (the child then exits) and waits for the exit; kills it if it hangs. */
async function stopChild(child: ChildProcess, exited: Promise<Error>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.ref();
  if (child.connected) child.disconnect();
  const timer = setTimeout(() => child.kill('SIGKILL'), exitTimeoutMs);
  await exited;
  clearTimeout(timer);
}
