import { rmSync } from 'node:fs';
import { uuidv7 } from '../ids';
import { type NewAction, openStore, type Store } from '../store';
import { temporaryDirectory, testDatabaseUrl } from './harness';

// The helpers of the repository and store tests: fresh stores, agents and actions.

/** Data directories to remove after the test. */
export const directories: string[] = [];
/** Stores to close after the test. */
export const stores: Store[] = [];

/** A fresh data directory, and the test database URL (PostgreSQL) when there is one. */
export async function location(): Promise<{ dataDir: string; databaseUrl: string | undefined }> {
  const dataDir = temporaryDirectory();
  directories.push(dataDir);
  const databaseUrl = await testDatabaseUrl();
  return { dataDir, databaseUrl };
}

/** A fresh migrated store, closed by `closeStores`. */
export async function freshStore(): Promise<Store> {
  const store = await openStore(await location());
  stores.push(store);
  return store;
}

/** Whether the store tests run on PostgreSQL. */
export const onPostgres = Boolean(process.env.ARDEN_TEST_DATABASE_URL);

/** Closes the stores and removes the directories of this test (call it in `afterEach`). */
export async function closeStores(): Promise<void> {
  while (stores.length > 0) await stores.pop()?.close();
  while (directories.length > 0) {
    rmSync(directories.pop() as string, { recursive: true, force: true });
  }
}

/** Inserts an agent named `name`. */
export async function agent(store: Store, name = 'agent-a') {
  const record = agentRecord(name);
  await store.agents.insert(record);
  return record;
}

/** An agent row named `name`. */
export function agentRecord(name: string) {
  const now = Date.now();
  return {
    id: uuidv7(),
    name,
    description: null,
    defaultAction: 'allow' as const,
    webhookUrl: null,
    signingKey: 'whsec_test',
    createdAt: now,
    updatedAt: now,
    deletedAt: null,
  };
}

/** A logged action of `agentId`, completed and allowed unless `overrides` say otherwise. */
export function action(agentId: string, overrides: Partial<NewAction> = {}): NewAction {
  const now = overrides.createdAt ?? Date.now();
  return {
    id: uuidv7(now),
    agentId,
    environment: 'live',
    toolName: 'tool.a',
    args: [],
    kwargs: {},
    metadata: null,
    sessionId: null,
    decision: 'allow',
    reason: 'no_policy_configured',
    policy: null,
    status: 'completed',
    expiresAt: null,
    onTimeout: null,
    decidedBy: null,
    decidedAt: now,
    notes: null,
    resultStatus: null,
    durationMs: null,
    resultError: null,
    result: null,
    reportedAt: null,
    createdAt: now,
    ...overrides,
  };
}
