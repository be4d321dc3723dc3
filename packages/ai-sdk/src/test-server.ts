import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ArdenServer, createServer } from '@arden/server';

/** A real Arden server on 127.0.0.1 (a free port), with a temporary data directory and one agent. */
export interface RunningServer {
  server: ArdenServer;
  url: string;
  agentId: string;
  key: string;
  /** Resolves with the next action held for approval. */
  nextPending(): Promise<{ id: string; toolName: string }>;
  approve(actionId: string, notes?: string): Promise<unknown>;
  deny(actionId: string, notes?: string): Promise<unknown>;
  /** The actions logged for this agent, oldest first. */
  actions(): Promise<
    {
      id: string;
      toolName: string;
      decision: string;
      status: string;
      sessionId: string | null;
      resultStatus: string | null;
    }[]
  >;
  /** The usage recorded for this agent, oldest first. */
  usage(): Promise<
    { model: string; promptTokens: number; completionTokens: number; sessionId: string | null }[]
  >;
  close(): Promise<void>;
}

function itemsOf<T>(page: unknown): T[] {
  return (Array.isArray(page) ? page : (page as { items: T[] }).items) as T[];
}

/** Starts a server with `policies` for a fresh agent in the live environment. */
export async function startServer(policies: unknown[]): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'arden-adapter-e2e-'));
  const server = await createServer({ host: '127.0.0.1', logLevel: 'silent', dataDir });
  const url = await server.listen(0);
  const agent = await server.agents.createAgent({ name: 'adapter-e2e', defaultAction: 'allow' });
  const { key } = await server.agents.createKey(agent.id, 'live');
  await server.policies.saveSet(agent.id, 'live', policies as never);
  return {
    server,
    url,
    agentId: agent.id,
    key,
    nextPending: () =>
      new Promise((resolve) => {
        const stop = server.events.subscribe((event: any) => {
          if (event.type === 'action.created' && event.action.status === 'pending') {
            stop();
            resolve(event.action);
          }
        });
      }),
    approve: (actionId, notes) =>
      server.approvals.decide(actionId, { decision: 'approve', userId: 'alice', notes }),
    deny: (actionId, notes) =>
      server.approvals.decide(actionId, { decision: 'deny', userId: 'bob', notes }),
    actions: async () =>
      itemsOf<any>(
        await server.store.actions.list({ agentId: agent.id }, {
          order: 'asc',
          limit: 500,
        } as never),
      ).sort((a, b) => a.seq - b.seq),
    usage: async () =>
      itemsOf<any>(await server.store.usage.list({ agentId: agent.id } as never)).sort(
        (a, b) => a.seq - b.seq,
      ),
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
