import type { ServerContext } from '../context';
import type { Environment } from '../crypto';
import { decisionChannel, wakeFromNotification } from './approvals';

/** The notification channel on which replicas tell each other to drop cached keys and policies. */
export const cacheChannel = 'arden_cache';

type CacheMessage =
  | { kind: 'agent'; hash?: string; agentId?: string }
  | { kind: 'policies'; agentId: string; environment: Environment };

/**
 * Connects this server to the other replicas sharing its database, when the store can notify
 * (PostgreSQL): decisions wake long-polls everywhere, and changes to agents, keys and policies
 * drop every replica's caches. Returns the function that disconnects. A no-op on SQLite.
 */
export async function connectReplicas(context: ServerContext): Promise<() => void> {
  const { store, agents, policies, hub, logger } = context;
  const database = store.database;
  if (!database.listen || !database.notify) return () => undefined;
  const publish = (message: CacheMessage) => {
    database
      .notify?.(cacheChannel, JSON.stringify(message))
      .catch((error) => logger.warn('Could not tell other replicas about a change', { error }));
  };
  agents.onChange((target) => publish({ kind: 'agent', ...target }));
  policies.onChange((agentId, environment) => publish({ kind: 'policies', agentId, environment }));
  const stopCache = await database.listen(cacheChannel, (payload) => {
    let message: CacheMessage;
    try {
      message = JSON.parse(payload);
    } catch {
      return;
    }
    if (message.kind === 'agent') {
      agents.invalidate({ hash: message.hash, agentId: message.agentId });
    } else if (message.kind === 'policies' && typeof message.agentId === 'string') {
      policies.invalidate(message.agentId, message.environment);
    }
  });
  const stopDecisions = await database.listen(decisionChannel, (payload) =>
    wakeFromNotification(hub, payload),
  );
  return () => {
    stopCache();
    stopDecisions();
  };
}
