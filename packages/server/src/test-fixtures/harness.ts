import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerConfig } from '../config';
import { type ArdenServer, createServer } from '../server';
import type { AgentRecord } from '../store';

/** A parsed answer of the test client. */
export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** A server on a free port of 127.0.0.1 with a temporary data directory and one agent. */
export interface TestServer {
  server: ArdenServer;
  url: string;
  dataDir: string;
  agent: AgentRecord;
  liveKey: string;
  testKey: string;
  request(
    method: string,
    path: string,
    options?: {
      body?: unknown;
      raw?: string;
      key?: string | null;
      headers?: Record<string, string>;
    },
  ): Promise<TestResponse>;
  close(): Promise<void>;
}

/** Makes a temporary data directory. */
export function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'arden-server-'));
}

/** Starts a server for a test. `close()` stops it and deletes its data (unless `keepData`). */
export async function startTestServer(
  config: ServerConfig = {},
  options: {
    agent?: Partial<Pick<AgentRecord, 'defaultAction' | 'webhookUrl'>>;
    keepData?: boolean;
  } = {},
): Promise<TestServer> {
  const dataDir = config.dataDir ?? temporaryDirectory();
  const server = await createServer({ host: '127.0.0.1', logLevel: 'silent', ...config, dataDir });
  const url = await server.listen(0);
  const existing = await server.store.agents.getByName('test-agent');
  const agent =
    existing ??
    (await server.agents.createAgent({
      name: 'test-agent',
      defaultAction: options.agent?.defaultAction ?? 'allow',
      webhookUrl: options.agent?.webhookUrl ?? null,
    }));
  const liveKey = (await server.agents.createKey(agent.id, 'live')).key;
  const testKey = (await server.agents.createKey(agent.id, 'test')).key;
  return {
    server,
    url,
    dataDir,
    agent,
    liveKey,
    testKey,
    async request(method, path, requestOptions = {}) {
      const headers: Record<string, string> = { ...requestOptions.headers };
      const key = requestOptions.key === undefined ? liveKey : requestOptions.key;
      if (key !== null) headers['x-api-key'] = key;
      let body: string | undefined;
      if (requestOptions.raw !== undefined) body = requestOptions.raw;
      else if (requestOptions.body !== undefined) {
        body = JSON.stringify(requestOptions.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(url + path, { method, headers, body });
      const text = await response.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
    async close() {
      await server.close();
      if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
