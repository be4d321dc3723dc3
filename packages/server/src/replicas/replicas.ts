import type { AgentService } from '../agents/service';
import type { ApprovalHub } from '../approvals/hub';
import { decisionChannel, statusOf, wakeFromNotification } from '../approvals/service';
import type { BudgetService } from '../budgets/service';
import type { Environment } from '../crypto';
import type { LiveEvent, LiveEvents } from '../events/service';
import { randomHex } from '../ids';
import type { Logger } from '../logger';
import type { McpHttpUpstreamRecord } from '../mcp/http-upstreams';
import type { McpUpstreamRecord } from '../mcp/repository';
import type { PolicyService } from '../policies/service';
import type { Database, Store, UsageRecord } from '../store';

/** The notification channel on which replicas tell each other to drop cached keys and policies. */
export const cacheChannel = 'arden_cache';

/** The notification channel that carries live events to the dashboards of other replicas. */
export const liveChannel = 'arden_live';

type CacheMessage =
  | { kind: 'agent'; hash?: string; agentId?: string }
  | { kind: 'policies'; agentId: string; environment: Environment }
  | { kind: 'budgets' };

/**
 * What `connectReplicas` works with: the parts of the server's context (`ServerContext`) that
 * replicas keep in step.
 */
export interface ReplicaServices {
  store: Store;
  agents: AgentService;
  policies: PolicyService;
  /** Budgets, whose definitions the tool checks cache (absent in some tests' contexts). */
  budgets?: BudgetService;
  hub: ApprovalHub;
  events: LiveEvents;
  logger: Logger;
}

/** Options of `connectReplicas`. */
export interface ReplicaOptions {
  /**
   * How often the actions long-polled on this replica are re-read, so a decision whose
   * notification was lost (the LISTEN connection broke) still wakes its waiters (default 2 000
   * ms; they are also re-read at once when listening resumes).
   */
  recheckMs?: number;
  /** How often a replica with dashboards open says so to the others (default 5 000 ms). */
  viewerHeartbeatMs?: number;
}

/**
 * Connects this server to the other replicas sharing its database, when the store can notify
 * (PostgreSQL): decisions wake long-polls everywhere (with a periodic re-check as the fallback
 * for lost notifications), live events reach the dashboards on every replica, and changes to
 * agents, keys and policies drop every replica's caches. Returns the function that disconnects.
 * A no-op on SQLite.
 */
export async function connectReplicas(
  context: ReplicaServices,
  options: ReplicaOptions = {},
): Promise<() => void> {
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
  context.budgets?.onChange(() => publish({ kind: 'budgets' }));
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
      policies.refresh(message.agentId, message.environment);
    } else if (message.kind === 'budgets') {
      context.budgets?.invalidate();
    }
  });
  const stopDecisions = await database.listen(decisionChannel, (payload) =>
    wakeFromNotification(hub, payload),
  );

  // The fallback: re-read the actions someone waits on here, and wake those already decided.
  let rechecking = false;
  const recheck = async () => {
    if (rechecking) return;
    const ids = hub.waitingIds();
    if (ids.length === 0) return;
    rechecking = true;
    try {
      for (let start = 0; start < ids.length; start += 500) {
        for (const action of await store.actions.getMany(ids.slice(start, start + 500))) {
          const notice = statusOf(action);
          if (notice.status !== 'pending') hub.wake(action.id, notice);
        }
      }
    } catch (error) {
      logger.warn('Could not re-check the actions waited on', { error });
    } finally {
      rechecking = false;
    }
  };
  const recheckTimer = setInterval(() => void recheck(), options.recheckMs ?? 2_000);
  recheckTimer.unref();
  const stopReconnect = database.onReconnect?.(() => {
    context.agents.invalidate();
    context.budgets?.invalidate();
    void recheck();
  });

  const relay = new LiveRelay(database, store, context.events, logger, options);
  await relay.start();

  return () => {
    clearInterval(recheckTimer);
    stopReconnect?.();
    stopCache();
    stopDecisions();
    relay.stop();
  };
}

// One relayed event: [kind, …what the receiver needs to rebuild it].
type RelayItem =
  | ['c' | 'd' | 'v', string] // action created / decided / voted on: the action id
  | ['r', string, string, 'succeeded' | 'failed'] // action reported: id, agent, status
  | ['u', unknown[][]] // usage recorded: the records, compact
  | ['w', string, string] // webhook attempted: delivery id, attempt id
  | ['m', 't' | 'c' | 'x', unknown[]] // MCP upstream tools reported / trust changed / deleted
  | ['h', 'a' | 'c' | 'r', unknown[]]; // MCP HTTP upstream added / changed / removed (no secret in it)

const mcpKinds = {
  t: 'mcp.tools_reported',
  c: 'mcp.trust_changed',
  x: 'mcp.upstream_deleted',
} as const;
const httpKinds = {
  a: 'mcp.http_upstream_added',
  c: 'mcp.http_upstream_changed',
  r: 'mcp.http_upstream_removed',
} as const;

type RelayMessage = { o: string; k: 'viewers' } | { o: string; k: 'events'; e: RelayItem[] };

// PostgreSQL refuses NOTIFY payloads of 8 000 bytes or more.
const maxPayload = 7_000;

/**
 * Carries live events between replicas, for the dashboards (SSE) connected to each. A replica
 * with dashboards open says so every few seconds; the others relay their events only while
 * they heard that recently, so with no dashboard open the hot path pays nothing. Events go as
 * ids (at most a few per notification): the receiving replica reads the records from the
 * database and emits them to its own dashboards.
 */
class LiveRelay {
  private readonly origin = randomHex(6);
  private remoteViewersUntil = 0;
  private unsubscribe: (() => void) | undefined;
  private stopListening: (() => void) | undefined;
  private stopWatching: (() => void) | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private queue: RelayItem[] = [];
  private flushScheduled = false;
  private readonly relayed = new WeakSet<LiveEvent>();

  constructor(
    private readonly database: Database,
    private readonly store: Store,
    private readonly events: LiveEvents,
    private readonly logger: Logger,
    private readonly options: ReplicaOptions,
  ) {}

  async start(): Promise<void> {
    this.stopListening = await this.database.listen?.(liveChannel, (payload) =>
      this.receive(payload),
    );
    const heartbeatMs = this.options.viewerHeartbeatMs ?? 5_000;
    const beat = () => {
      if (this.events.watching > 0) this.send({ o: this.origin, k: 'viewers' });
    };
    this.stopWatching = this.events.onWatching((watching) => {
      if (watching === 1) beat();
    });
    this.heartbeat = setInterval(beat, heartbeatMs);
    this.heartbeat.unref();
  }

  stop(): void {
    this.stopListening?.();
    this.stopWatching?.();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private send(message: RelayMessage): void {
    this.database
      .notify?.(liveChannel, JSON.stringify(message))
      .catch((error) => this.logger.warn('Could not relay live events', { error }));
  }

  private receive(payload: string): void {
    let message: RelayMessage;
    try {
      message = JSON.parse(payload);
    } catch {
      return;
    }
    if (message.o === this.origin) return;
    if (message.k === 'viewers') {
      const heartbeatMs = this.options.viewerHeartbeatMs ?? 5_000;
      this.remoteViewersUntil = Date.now() + 3 * heartbeatMs;
      this.unsubscribe ??= this.events.subscribe((event) => this.capture(event));
      return;
    }
    if (message.k === 'events' && Array.isArray(message.e) && this.events.watching > 0) {
      void this.rebuild(message.e).catch((error) =>
        this.logger.warn('Could not read relayed live events', { error }),
      );
    }
  }

  private capture(event: LiveEvent): void {
    if (this.relayed.has(event)) return;
    if (Date.now() > this.remoteViewersUntil) {
      // Nobody watches elsewhere any more.
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      return;
    }
    switch (event.type) {
      case 'action.created':
        this.queue.push(['c', event.action.id]);
        break;
      case 'action.decided':
        this.queue.push(['d', event.action.id]);
        break;
      case 'action.voted':
        this.queue.push(['v', event.action.id]);
        break;
      case 'action.reported':
        this.queue.push(['r', event.actionId, event.agentId, event.status]);
        break;
      case 'usage.recorded':
        for (let start = 0; start < event.usage.length; start += 5) {
          this.queue.push(['u', event.usage.slice(start, start + 5).map(compactUsage)]);
        }
        break;
      case 'webhook.attempted':
        this.queue.push(['w', event.delivery.id, event.attempt.id]);
        break;
      case 'mcp.tools_reported':
      case 'mcp.trust_changed':
      case 'mcp.upstream_deleted':
        this.queue.push([
          'm',
          event.type === 'mcp.tools_reported'
            ? 't'
            : event.type === 'mcp.trust_changed'
              ? 'c'
              : 'x',
          compactMcpUpstream(event.upstream),
        ]);
        break;
      case 'mcp.http_upstream_added':
      case 'mcp.http_upstream_changed':
      case 'mcp.http_upstream_removed':
        this.queue.push([
          'h',
          event.type === 'mcp.http_upstream_added'
            ? 'a'
            : event.type === 'mcp.http_upstream_changed'
              ? 'c'
              : 'r',
          compactHttpUpstream(event.httpUpstream),
        ]);
        break;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  // Everything captured in one turn goes in as few notifications as fit.
  private flush(): void {
    this.flushScheduled = false;
    const items = this.queue;
    this.queue = [];
    let batch: RelayItem[] = [];
    let size = 0;
    for (const item of items) {
      const length = JSON.stringify(item).length + 1;
      if (batch.length > 0 && size + length > maxPayload) {
        this.send({ o: this.origin, k: 'events', e: batch });
        batch = [];
        size = 0;
      }
      if (length > maxPayload) continue;
      batch.push(item);
      size += length;
    }
    if (batch.length > 0) this.send({ o: this.origin, k: 'events', e: batch });
  }

  private emit(event: LiveEvent): void {
    this.relayed.add(event);
    this.events.emit(event);
  }

  private async rebuild(items: RelayItem[]): Promise<void> {
    const actionIds = items
      .filter((item) => item[0] === 'c' || item[0] === 'd' || item[0] === 'v')
      .map((item) => item[1] as string);
    const actions = new Map(
      (await this.store.actions.getMany([...new Set(actionIds)])).map((action) => [
        action.id,
        action,
      ]),
    );
    for (const item of items) {
      if (item[0] === 'c' || item[0] === 'd' || item[0] === 'v') {
        const action = actions.get(item[1]);
        if (action) {
          const type =
            item[0] === 'c'
              ? 'action.created'
              : item[0] === 'd'
                ? 'action.decided'
                : 'action.voted';
          this.emit({ type, action });
        }
      } else if (item[0] === 'r') {
        this.emit({
          type: 'action.reported',
          actionId: item[1],
          agentId: item[2],
          status: item[3],
        });
      } else if (item[0] === 'u') {
        const usage = item[1].map(expandUsage).filter((record) => record !== undefined);
        if (usage.length > 0) this.emit({ type: 'usage.recorded', usage });
      } else if (item[0] === 'w') {
        const [delivery, attempt] = await Promise.all([
          this.store.webhooks.get(item[1]),
          this.store.webhooks.attempt(item[2]),
        ]);
        if (delivery && attempt) this.emit({ type: 'webhook.attempted', delivery, attempt });
      } else if (item[0] === 'm' && Object.hasOwn(mcpKinds, item[1])) {
        const upstream = expandMcpUpstream(item[2]);
        if (upstream) this.emit({ type: mcpKinds[item[1]], upstream });
      } else if (item[0] === 'h' && Object.hasOwn(httpKinds, item[1])) {
        const httpUpstream = expandHttpUpstream(item[2]);
        if (httpUpstream) this.emit({ type: httpKinds[item[1]], httpUpstream });
      }
    }
  }
}

function compactUsage(usage: UsageRecord): unknown[] {
  return [
    usage.id,
    usage.agentId,
    usage.environment,
    usage.sessionId,
    usage.model.slice(0, 100),
    usage.promptTokens,
    usage.completionTokens,
    usage.costUsd,
    usage.rateFound ? 1 : 0,
    usage.createdAt,
  ];
}

function expandUsage(values: unknown[]): UsageRecord | undefined {
  if (!Array.isArray(values) || values.length !== 10) return undefined;
  const [id, agentId, environment, sessionId, model, prompt, completion, cost, rated, at] = values;
  return {
    seq: 0,
    id: String(id),
    agentId: String(agentId),
    environment: environment as Environment,
    sessionId: sessionId === null ? null : String(sessionId),
    model: String(model),
    promptTokens: Number(prompt),
    completionTokens: Number(completion),
    costUsd: Number(cost),
    rateFound: rated === 1,
    createdAt: Number(at),
  };
}

function compactMcpUpstream(upstream: McpUpstreamRecord): unknown[] {
  return [
    upstream.id,
    upstream.agentId,
    upstream.environment,
    upstream.name,
    upstream.trusted ? 1 : 0,
    upstream.trustedBy,
    upstream.transport,
    upstream.toolCount,
    upstream.toolsReportedAt,
    upstream.createdAt,
    upstream.updatedAt,
  ];
}

const textOrNull = (value: unknown): string | null => (value === null ? null : String(value));
const numberOrNull = (value: unknown): number | null => (value === null ? null : Number(value));

function expandMcpUpstream(values: unknown[]): McpUpstreamRecord | undefined {
  if (!Array.isArray(values) || values.length !== 11) return undefined;
  const [
    id,
    agentId,
    environment,
    name,
    trusted,
    by,
    transport,
    count,
    reported,
    created,
    updated,
  ] = values;
  if (environment !== 'test' && environment !== 'live') return undefined;
  return {
    id: String(id),
    agentId: String(agentId),
    environment,
    name: String(name),
    trusted: trusted === 1,
    trustedBy: textOrNull(by),
    transport: textOrNull(transport),
    tools: [],
    toolCount: Number(count),
    toolsReportedAt: numberOrNull(reported),
    createdAt: Number(created),
    updatedAt: Number(updated),
  };
}

function compactHttpUpstream(upstream: McpHttpUpstreamRecord): unknown[] {
  return [
    upstream.id,
    upstream.name,
    upstream.origin,
    upstream.headerNames,
    upstream.createdBy,
    upstream.createdAt,
    upstream.updatedAt,
    upstream.showBlockedTools ? 1 : 0,
  ];
}

function expandHttpUpstream(values: unknown[]): McpHttpUpstreamRecord | undefined {
  // 7 values from a replica of a version before `showBlockedTools` (then: off).
  if (!Array.isArray(values) || (values.length !== 7 && values.length !== 8)) return undefined;
  const [id, name, origin, headerNames, by, created, updated, showBlockedTools] = values;
  if (!Array.isArray(headerNames)) return undefined;
  return {
    id: String(id),
    name: String(name),
    origin: String(origin),
    headerNames: headerNames.map(String),
    showBlockedTools: showBlockedTools === 1,
    createdBy: textOrNull(by),
    createdAt: Number(created),
    updatedAt: Number(updated),
  };
}
