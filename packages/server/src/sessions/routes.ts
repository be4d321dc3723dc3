import {
  agentIdFilter,
  collectActions,
  nextCursor,
  parseTime,
  readsOf,
  v1,
} from '../admin/route-helpers';
import { actionView, iso, sessionView, usageView } from '../admin/serialize';
import { type AdminCall, type AdminRoute, route } from '../admin/table';
import type { Environment } from '../crypto';
import { NotFoundError } from '../errors';
import type { SessionSummary, UsageRecord } from '../store';
import * as schemas from './schema';

// The admin API of sessions: summaries, and one session on a timeline.

async function collectUsage(
  call: AdminCall<unknown, unknown>,
  sessionId: string,
  filter: { agentId?: string; environment?: Environment },
  count: number,
): Promise<{ usage: UsageRecord[]; more: boolean }> {
  const usage: UsageRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await (await readsOf(call)).usage.list(
      { ...filter, sessionId },
      { cursor, limit: Math.min(500, count - usage.length) },
    );
    usage.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && usage.length < count);
  // The listing is newest first: the oldest are the ones left out when there are more.
  return { usage: usage.reverse(), more: cursor !== undefined };
}

const sessionTimelineLimit = 2_000;

/** Sessions: summaries and one session on a timeline. */
export const sessionRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/sessions`,
    access: 'viewer',
    tag: 'sessions',
    summary: 'Sessions with their action counts and token cost, most recent first',
    query: schemas.sessionQuery,
    response: schemas.sessionPage,
    async handler(call) {
      const page = await (await readsOf(call)).actions.listSessions(
        {
          agentId: await agentIdFilter(call, call.query.agent),
          environment: call.query.environment,
          from: parseTime(call.query.from, 'from'),
          to: parseTime(call.query.to, 'to'),
        },
        { cursor: call.query.cursor, limit: call.query.limit },
      );
      return { items: page.items.map(sessionView), next_cursor: nextCursor(page.nextCursor) };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/sessions/:session_id`,
    access: 'viewer',
    tag: 'sessions',
    summary: "One session's calls and token usage on a timeline, with the running cost",
    params: { session_id: 'Session id.' },
    query: schemas.sessionDetailQuery,
    response: schemas.sessionDetail,
    async handler(call) {
      const sessionId = call.params.session_id as string;
      const agentId = await agentIdFilter(call, call.query.agent);
      const filter = { agentId, environment: call.query.environment };
      const [{ actions, more: moreActions }, { usage, more: moreUsage }] = await Promise.all([
        collectActions(call, { ...filter, sessionId }, sessionTimelineLimit, 'asc'),
        collectUsage(call, sessionId, filter, sessionTimelineLimit),
      ]);
      if (actions.length === 0 && usage.length === 0) {
        throw new NotFoundError(
          `No session ${sessionId.slice(0, 100)}${agentId ? ' for this agent' : ''}. List sessions with GET /api/v1/sessions.`,
        );
      }
      const entries = [
        ...actions.map((action) => ({ at: action.createdAt, action })),
        ...usage.map((event) => ({ at: event.createdAt, usage: event })),
      ].sort((left, right) => left.at - right.at);
      let runningCost = 0;
      let runningTokens = 0;
      const summaries = new Map<string, SessionSummary>();
      const summaryOf = (agent: string, environment: Environment, at: number) => {
        const key = `${agent}\u0000${environment}`;
        let summary = summaries.get(key);
        if (!summary) {
          summary = {
            sessionId,
            agentId: agent,
            environment,
            actions: 0,
            pending: 0,
            blocked: 0,
            firstAt: at,
            lastAt: at,
            totalTokens: 0,
            costUsd: 0,
          };
          summaries.set(key, summary);
        }
        summary.firstAt = Math.min(summary.firstAt, at);
        summary.lastAt = Math.max(summary.lastAt, at);
        return summary;
      };
      const timeline = entries.slice(0, sessionTimelineLimit).map((entry) => {
        if ('action' in entry && entry.action) {
          const action = entry.action;
          const summary = summaryOf(action.agentId, action.environment, action.createdAt);
          summary.actions++;
          if (action.status === 'pending') summary.pending++;
          if (action.decision === 'block') summary.blocked++;
          return {
            kind: 'action' as const,
            at: iso(entry.at),
            action: actionView(action),
            running_cost_usd: runningCost,
            running_tokens: runningTokens,
          };
        }
        const event = (entry as { usage: UsageRecord }).usage;
        const tokens = event.promptTokens + event.completionTokens;
        runningCost += event.costUsd;
        runningTokens += tokens;
        const summary = summaryOf(event.agentId, event.environment, event.createdAt);
        summary.totalTokens += tokens;
        summary.costUsd += event.costUsd;
        return {
          kind: 'usage' as const,
          at: iso(entry.at),
          usage: usageView(event),
          running_cost_usd: runningCost,
          running_tokens: runningTokens,
        };
      });
      return {
        session_id: sessionId,
        sessions: [...summaries.values()].map(sessionView),
        timeline,
        total_cost_usd: runningCost,
        total_tokens: runningTokens,
        truncated: moreActions || moreUsage || entries.length > sessionTimelineLimit,
      };
    },
  }),
];
