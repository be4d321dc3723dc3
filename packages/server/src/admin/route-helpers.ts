import { ValidationError } from '../errors';
import type { AdminReads } from '../reads/reader';
import type { ActionFilter, ActionRecord, AgentRecord } from '../store';
import type { AdminCall } from './table';

// Helpers of the admin routes of more than one resource.

export const v1 = '/api/v1';

/** Parses an ISO 8601 time or epoch milliseconds. */
export function parseTime(value: string | undefined, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const time = /^\d{1,16}$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(time)) {
    throw new ValidationError(
      `${field} must be an ISO 8601 time (2026-01-31T12:00:00Z) or milliseconds since the epoch; got "${value.slice(0, 50)}".`,
      field,
    );
  }
  return time;
}

export async function agentOf(call: AdminCall<unknown, unknown>): Promise<AgentRecord> {
  return call.services.server.agents.getAgent(call.params.agent_id as string);
}

export async function agentIdFilter(
  call: AdminCall<unknown, unknown>,
  agent: string | undefined,
): Promise<string | undefined> {
  if (agent === undefined || agent === '') return undefined;
  return (await call.services.server.agents.getAgent(agent)).id;
}

export function nextCursor(cursor: string | undefined): string | null {
  return cursor ?? null;
}

export async function emailsOf(call: AdminCall<unknown, unknown>, ids: (string | null)[]) {
  return call.services.queries.userEmails(ids.filter((id): id is string => id !== null));
}

/**
 * The reads of one admin request, off the check path (worker threads or a pool of their own)
 * and within its time budget; one per request, made on first use.
 */
export function readsOf(call: AdminCall<unknown, unknown>): Promise<AdminReads> {
  const holder = call as { reads?: Promise<AdminReads> };
  holder.reads ??= call.services.reader.begin();
  return holder.reads;
}

export async function collectActions(
  call: AdminCall<unknown, unknown>,
  filter: ActionFilter,
  count: number,
  order: 'asc' | 'desc',
): Promise<{ actions: ActionRecord[]; more: boolean }> {
  const actions: ActionRecord[] = [];
  let cursor: string | undefined;
  const reads = await readsOf(call);
  do {
    const page = await reads.actions.list(filter, {
      cursor,
      limit: Math.min(500, count - actions.length),
      order,
    });
    actions.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && actions.length < count);
  return { actions, more: cursor !== undefined };
}
