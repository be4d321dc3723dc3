import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActionFilter, Page, UsageFilter } from '../store';
import type { TestServer, TestServerOptions } from './types';

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

/** `startTestServer()` in this process: needs `node:sqlite` here. */
export async function startInProcess(options: TestServerOptions): Promise<TestServer> {
  // Loaded here, not at the top: in 'child-process' mode this process never needs the server.
  const { createServer } = await import('../server');
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
  for (const budget of options.budgets ?? []) {
    await server.budgets.create({
      ...budget,
      agentId: budget.scope.startsWith('environment') ? null : agent.id,
      environment,
    });
  }
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
    mode: 'in-process',
    pid: process.pid,
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
    approve: (actionId, notes, edit) =>
      server.approvals.decide(actionId, {
        decision: 'approve',
        userId: 'alice',
        notes,
        ...(edit?.patch ? { patch: edit.patch } : {}),
        ...(edit?.kwargs ? { kwargs: edit.kwargs } : {}),
      }),
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
