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
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyDefinition } from '@arden/policy';
import type { ServerConfig } from './config';
import type { Environment } from './crypto';
import { type ArdenServer, createServer } from './server';
import type {
  ActionFilter,
  ActionRecord,
  ActionStatus,
  Effect,
  Page,
  UsageFilter,
  UsageRecord,
} from './store';

/** Options of `startTestServer()`. */
export interface TestServerOptions {
  /** The agent's policies, in `environment`. Default: none (every call gets `defaultAction`). */
  policies?: PolicyDefinition[];
  /** The environment of the agent key and the policies: `'live'` (default) or `'test'`. */
  environment?: Environment;
  /** The agent's name. Default `'test-agent'`. */
  agentName?: string;
  /** What calls no policy matches get. Default `'allow'`. */
  defaultAction?: Effect;
  /**
   * More server configuration. Default: 127.0.0.1, silent logs, SQLite in a temporary data
   * directory that `close()` deletes (a `dataDir` given here is kept).
   */
  config?: ServerConfig;
  /** How long `nextPending()` waits for a held call before it rejects. Default 5000 ms. */
  pendingTimeoutMs?: number;
}

/** The actions or usage of the test agent that a read returns. */
export interface TestServerFilter {
  /** Only this session's. */
  sessionId?: string;
}

/** A running test server: its URL, its agent and key, and helpers to decide and read. */
export interface TestServer {
  /** The server itself: its services (`approvals`, `policies`, `agents`…), `store` and `events`. */
  server: ArdenServer;
  /** The base URL, for `configure({ apiUrl })`. */
  url: string;
  /** The temporary data directory. */
  dataDir: string;
  /** The test agent's id. */
  agentId: string;
  /** The test agent's API key in `environment`, for `configure({ apiKey })`. */
  key: string;
  /** The environment of `key` and the policies. */
  environment: Environment;
  /**
   * Resolves with a call held for approval that this helper has not handed out before (oldest
   * first): one pending already, else the next one held. Rejects after `pendingTimeoutMs`.
   */
  nextPending(filter?: TestServerFilter & { toolName?: string }): Promise<ActionRecord>;
  /** Approves a held call as an approver would in the dashboard (user `alice`). */
  approve(actionId: string, notes?: string): Promise<ActionRecord>;
  /** Denies a held call as an approver would in the dashboard (user `bob`). */
  deny(actionId: string, notes?: string): Promise<ActionRecord>;
  /** The test agent's logged actions, oldest first. */
  actions(filter?: TestServerFilter & { status?: ActionStatus }): Promise<ActionRecord[]>;
  /** The test agent's recorded token usage, oldest first. */
  usage(filter?: TestServerFilter): Promise<UsageRecord[]>;
  /** Stops the server and deletes its temporary data directory. */
  close(): Promise<void>;
}

const pollIntervalMs = 20;

/** Every item of a paged listing. */
async function allPages<T>(read: (cursor: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return items;
}

/**
 * Starts a real Arden server for a test, on a free port of 127.0.0.1, with a temporary data
 * directory, one agent with a key, and `policies`. Call `close()` when the test is done.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const environment = options.environment ?? 'live';
  const ownDataDir = options.config?.dataDir === undefined;
  const dataDir = options.config?.dataDir ?? mkdtempSync(join(tmpdir(), 'arden-test-server-'));
  const server = await createServer({
    host: '127.0.0.1',
    logLevel: 'silent',
    ...options.config,
    dataDir,
  });
  const url = await server.listen(0);
  const agent = await server.agents.createAgent({
    name: options.agentName ?? 'test-agent',
    defaultAction: options.defaultAction ?? 'allow',
  });
  const { key } = await server.agents.createKey(agent.id, environment);
  if (options.policies) await server.policies.saveSet(agent.id, environment, options.policies);
  const handedOut = new Set<string>();
  const pendingTimeoutMs = options.pendingTimeoutMs ?? 5_000;

  const actions = (filter: ActionFilter = {}) =>
    allPages((cursor) =>
      server.store.actions.list(
        { ...filter, agentId: agent.id, environment },
        { order: 'asc', limit: 500, ...(cursor === undefined ? {} : { cursor }) },
      ),
    );
  // Usage lists newest first: sorted here, oldest first like the actions.
  const usage = async (filter: UsageFilter = {}) =>
    (
      await allPages((cursor) =>
        server.store.usage.list(
          { ...filter, agentId: agent.id, environment },
          { limit: 500, ...(cursor === undefined ? {} : { cursor }) },
        ),
      )
    ).sort((a, b) => a.seq - b.seq);

  return {
    server,
    url,
    dataDir,
    agentId: agent.id,
    key,
    environment,
    async nextPending(filter = {}) {
      const deadline = Date.now() + pendingTimeoutMs;
      for (;;) {
        const held = (
          await actions({
            status: 'pending',
            ...(filter.sessionId === undefined ? {} : { sessionId: filter.sessionId }),
            ...(filter.toolName === undefined ? {} : { tool: filter.toolName }),
          })
        ).find((action) => !handedOut.has(action.id));
        if (held) {
          handedOut.add(held.id);
          return held;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `No call was held for approval within ${pendingTimeoutMs} ms. Check that a policy with action 'requires_approval' matches the call, or raise pendingTimeoutMs.`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
      }
    },
    approve: (actionId, notes) =>
      server.approvals.decide(actionId, { decision: 'approve', userId: 'alice', notes }),
    deny: (actionId, notes) =>
      server.approvals.decide(actionId, { decision: 'deny', userId: 'bob', notes }),
    actions: (filter = {}) => actions(filter),
    usage: (filter = {}) => usage(filter),
    async close() {
      await server.close();
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
