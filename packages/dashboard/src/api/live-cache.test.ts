import { describe, expect, it } from 'vitest';
import { action } from '../test-helpers';
import { applyLiveEvent, removeApproval } from './live-cache';
import { createQueryClient, queryKeys } from './queries';
import type { Approval, Page } from './types';

const at = '2026-11-24T10:00:00.000Z';

function seeded() {
  const client = createQueryClient();
  client.setQueryData<Page<Approval>>(queryKeys.approvals, {
    items: [{ ...action({ id: 'held-1' }), waiting_ms: 0 }],
    next_cursor: null,
  });
  return client;
}

function queue(client: ReturnType<typeof createQueryClient>): string[] {
  return (
    client.getQueryData<Page<Approval>>(queryKeys.approvals)?.items.map((item) => item.id) ?? []
  );
}

describe('live events in the query cache', () => {
  it('adds a held call to the approval queue once, and only a held one', () => {
    const client = seeded();
    const held = action({ id: 'held-2' });
    applyLiveEvent(client, { type: 'action.created', at, action: held });
    applyLiveEvent(client, { type: 'action.created', at, action: held });
    applyLiveEvent(client, {
      type: 'action.created',
      at,
      action: action({ id: 'allowed', decision: 'allow', status: 'completed' }),
    });
    expect(queue(client)).toEqual(['held-1', 'held-2']);
  });

  it('takes a decided call off the queue, by its action or its id', () => {
    const client = seeded();
    applyLiveEvent(client, { type: 'action.created', at, action: action({ id: 'held-2' }) });
    applyLiveEvent(client, { type: 'action.decided', at, action_id: 'held-1' });
    expect(queue(client)).toEqual(['held-2']);
    applyLiveEvent(client, {
      type: 'action.decided',
      at,
      action: action({ id: 'held-2', status: 'denied' }),
    });
    expect(queue(client)).toEqual([]);
    removeApproval(client, 'unknown');
    expect(queue(client)).toEqual([]);
  });

  it('leaves a queue that is not loaded yet alone', () => {
    const client = createQueryClient();
    applyLiveEvent(client, { type: 'action.created', at, action: action({ id: 'held-2' }) });
    expect(client.getQueryData(queryKeys.approvals)).toBeUndefined();
  });

  it('invalidates the action and the webhook deliveries an event changed', () => {
    const client = createQueryClient();
    for (const key of [
      queryKeys.action('a1'),
      queryKeys.action('a2'),
      queryKeys.deliveries('agent-1'),
      queryKeys.delivery('d1'),
      queryKeys.deliveries('agent-2'),
    ]) {
      client.setQueryData(key, { loaded: true });
    }
    const invalidated = (key: readonly unknown[]) => client.getQueryState(key)?.isInvalidated;
    applyLiveEvent(client, { type: 'action.reported', at, action_id: 'a1' });
    expect(invalidated(queryKeys.action('a1'))).toBe(true);
    expect(invalidated(queryKeys.action('a2'))).toBe(false);
    applyLiveEvent(client, {
      type: 'webhook.attempted',
      at,
      agent_id: 'agent-1',
      delivery: {
        id: 'd1',
        event_id: 'e1',
        agent_id: 'agent-1',
        action_id: null,
        event_type: 'action_approved',
        url: 'https://example.com/hook',
        status: 'delivered',
        attempts: 1,
        next_attempt_at: at,
        last_status: 200,
        last_error: null,
        created_at: at,
        delivered_at: at,
      },
    });
    expect(invalidated(queryKeys.deliveries('agent-1'))).toBe(true);
    expect(invalidated(queryKeys.delivery('d1'))).toBe(true);
    expect(invalidated(queryKeys.deliveries('agent-2'))).toBe(false);
  });
});
