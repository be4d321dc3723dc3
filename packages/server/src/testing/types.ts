import type { PolicyDefinition } from '@arden/policy';
import type { ServerConfig } from '../config';
import type { Environment } from '../crypto';
import type { ArdenServer } from '../server';
import type { ActionRecord, ActionStatus, Effect, UsageRecord } from '../store';

/**
 * Where `startTestServer()` runs the server. `'in-process'`: in the test's own process, which
 * needs `node:sqlite` (Node.js ≥ 22.13). `'child-process'`: in a child process on a Node.js that
 * has it (see `TestServerOptions.mode`), driven over an IPC channel.
 */
export type TestServerMode = 'in-process' | 'child-process';

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
   * Budgets of the test agent in `environment` (docs/budgets.md); environment scopes count every
   * agent. Default: none.
   */
  budgets?: TestServerBudget[];
  /**
   * More server configuration. Default: 127.0.0.1, silent logs, SQLite in a temporary data
   * directory that `close()` deletes (a `dataDir` given here is kept). In a child process only
   * plain data crosses over: a function (`logger`, `plugins`, `clock`) is refused.
   */
  config?: ServerConfig;
  /** How long `nextPending()` waits for a held call before it rejects. Default 5000 ms. */
  pendingTimeoutMs?: number;
  /**
   * Where the server runs. `'auto'` (default): in this process when its Node.js can load
   * `node:sqlite` (≥ 22.13), else in a child process — on the Node.js named by
   * `ARDEN_SERVER_NODE`, else the project's `.tools/node_modules/.bin/node`, else the first
   * `node` on `PATH` that has `node:sqlite`. `'child-process'` forces the child process (to test
   * that path on a current Node.js); `'in-process'` forces this process.
   */
  mode?: 'auto' | TestServerMode;
}

/** A budget made by `startTestServer({ budgets })`. */
export interface TestServerBudget {
  scope: 'session' | 'agent_day' | 'environment_day' | 'environment_month';
  name?: string;
  /** Dollars; at least one of `limitUsd` and `limitTokens`. */
  limitUsd?: number;
  limitTokens?: number;
  /** Tool calls once it is used up: `'block'` (default) or `'requires_approval'`. */
  onExceeded?: 'block' | 'requires_approval';
}

/** The actions or usage of the test agent that a read returns. */
export interface TestServerFilter {
  /** Only this session's. */
  sessionId?: string;
}

/** A running test server: its URL, its agent and key, and helpers to decide and read. */
export interface TestServer {
  /**
   * The server itself: its services (`approvals`, `policies`, `agents`…), `store` and `events`.
   * Only in `'in-process'` mode: in a child process reading it throws, since the object lives
   * in the other process; use the helpers below or the HTTP API there.
   */
  readonly server: ArdenServer;
  /** Where the server runs: in this process, or in a child process on another Node.js. */
  mode: TestServerMode;
  /** The id of the process the server runs in: this one's, or the child process's. */
  pid: number;
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
  /**
   * Approves a held call as an approver would in the dashboard (user `alice`). With `edit`, the
   * approver changes the arguments first (an RFC 6902 `patch` of the keyword arguments, or the
   * `kwargs` whole): the edited call is evaluated again, and adapters run it.
   */
  approve(
    actionId: string,
    notes?: string,
    edit?: { patch?: unknown[]; kwargs?: Record<string, unknown> },
  ): Promise<ActionRecord>;
  /** Denies a held call as an approver would in the dashboard (user `bob`). */
  deny(actionId: string, notes?: string): Promise<ActionRecord>;
  /** The test agent's logged actions, oldest first. */
  actions(filter?: TestServerFilter & { status?: ActionStatus }): Promise<ActionRecord[]>;
  /** The test agent's recorded token usage, oldest first. */
  usage(filter?: TestServerFilter): Promise<UsageRecord[]>;
  /** Stops the server (and its process) and deletes its temporary data directory. */
  close(): Promise<void>;
}

/** The helpers of a `TestServer` that a child process answers over its IPC channel. */
export type TestServerHelper = 'nextPending' | 'approve' | 'deny' | 'actions' | 'usage' | 'close';
