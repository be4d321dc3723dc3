import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdminOptions } from '../admin/mount';
import type { ServerConfig } from '../config';
import { randomHex } from '../ids';
import { type ArdenServer, createServer } from '../server';
import type { AgentRecord } from '../store';
import { requestInProcess } from './in-process';

/** A parsed answer of the test client. */
export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/**
 * A server on a free port of 127.0.0.1 (or, with `listen: false`, on none) with a temporary data
 * directory and one agent.
 */
export interface TestServer {
  server: ArdenServer;
  /** Its base URL; throws when it was started with `listen: false`. */
  readonly url: string;
  dataDir: string;
  /** The PostgreSQL URL when the suite runs against PostgreSQL. */
  databaseUrl: string | undefined;
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

/**
 * A PostgreSQL URL with a fresh schema of its own (`search_path`), when the suite runs against
 * PostgreSQL (`ARDEN_TEST_DATABASE_URL` is set by the `postgres` test project); else undefined.
 */
export async function testDatabaseUrl(): Promise<string | undefined> {
  const base = process.env.ARDEN_TEST_DATABASE_URL;
  if (!base) return undefined;
  const schema = `arden_test_${randomHex(6)}`;
  const pg = ((await import('pg')) as any).default;
  const client = new pg.Client({ connectionString: base, options: '-c synchronous_commit=off' });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  const url = new URL(base);
  // Tests need no durability from PostgreSQL: skipping the flush keeps the suite quick.
  url.searchParams.set('options', `-c search_path=${schema} -c synchronous_commit=off`);
  return url.toString();
}

/** Drops the schema of a `testDatabaseUrl()` URL (nothing for other URLs). */
export async function dropTestDatabase(url: string | undefined): Promise<void> {
  const schema = url
    ? /search_path=(arden_test_[0-9a-f]+)/.exec(new URL(url).searchParams.get('options') ?? '')?.[1]
    : undefined;
  if (!schema || !process.env.ARDEN_TEST_DATABASE_URL) return;
  const pg = ((await import('pg')) as any).default;
  const client = new pg.Client({
    connectionString: process.env.ARDEN_TEST_DATABASE_URL,
    options: '-c synchronous_commit=off',
  });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
}

/** Makes a temporary data directory. */
export function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'arden-server-'));
}

/**
 * Starts a server for a test. `close()` stops it and deletes its data (unless `keepData`). With
 * `listen: false` it opens no port, and `request()` calls its request handler in this process
 * (`requestInProcess`): for tests where the network is not the point.
 */
export async function startTestServer(
  config: ServerConfig = {},
  options: {
    agent?: Partial<Pick<AgentRecord, 'defaultAction' | 'webhookUrl'>>;
    keepData?: boolean;
    listen?: boolean;
  } = {},
): Promise<TestServer> {
  const dataDir = config.dataDir ?? temporaryDirectory();
  const databaseUrl = config.databaseUrl ?? (await testDatabaseUrl());
  const server = await createServer({
    host: '127.0.0.1',
    logLevel: 'silent',
    ...config,
    // The tests' webhook receivers listen on 127.0.0.1: allow it (servers refuse private
    // addresses by default; the SSRF tests turn this off).
    webhooks: { allowPrivate: true, ...config.webhooks },
    // Users are hashed at the test cost: OWASP's costs a third of a second per hash.
    admin: { insecureTestPasswordHashing: true, ...(config as { admin?: AdminOptions }).admin },
    dataDir,
    databaseUrl,
  });
  const listening = options.listen !== false;
  const url = listening ? await server.listen(0) : undefined;
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
    get url(): string {
      if (url === undefined) {
        throw new Error('This test server was started with listen: false: it has no URL.');
      }
      return url;
    },
    dataDir,
    databaseUrl,
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
      const response =
        url === undefined
          ? await requestInProcess(server, method, path, { headers, body })
          : await fetch(url + path, { method, headers, body });
      const text = response instanceof Response ? await response.text() : response.text;
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
      if (!options.keepData) {
        // PostgreSQL schemas are dropped together after the run (postgres-setup.ts).
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
