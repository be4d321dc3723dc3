// The live event bus: subscribers say what they take, so that an emitter builds an event only
// when someone takes it (a tool check builds no `action.created` nobody listens to).
import { expect, test, vi } from 'vitest';
import { startAdminTestServer } from '../admin/test-support';
import { createLogger } from '../logger';
import type { ActionRecord } from '../store';
import { type LiveEvent, LiveEvents } from './service';

const action = (status: ActionRecord['status']) => ({ id: 'a', status }) as ActionRecord;

test('a subscriber gets only what it takes, and wants() says whether anyone takes it', () => {
  const events = new LiveEvents(createLogger('silent'));
  expect(events.wants('action.created')).toBe(false);
  const decided: LiveEvent[] = [];
  const stopDecided = events.subscribe((event) => decided.push(event), ['action.decided']);
  // Settling held costs (budgets) takes decisions only: no creation is wanted.
  expect(events.wants('action.created')).toBe(false);
  expect(events.wants('action.created:pending')).toBe(false);
  expect(events.wants('action.decided')).toBe(true);
  const held: LiveEvent[] = [];
  const stopHeld = events.subscribe((event) => held.push(event), ['action.created:pending']);
  expect(events.wants('action.created:pending')).toBe(true);
  expect(events.wants('action.created')).toBe(false);
  events.emit({ type: 'action.created', action: action('completed') });
  events.emit({ type: 'action.created', action: action('pending') });
  events.emit({ type: 'action.decided', action: action('approved') });
  expect(held.map((event) => event.type)).toEqual(['action.created']);
  expect(decided.map((event) => event.type)).toEqual(['action.decided']);
  // A subscriber of everything (the dashboard's stream) wants every creation.
  const all: LiveEvent[] = [];
  const stopAll = events.subscribe((event) => all.push(event));
  expect(events.wants('action.created')).toBe(true);
  events.emit({ type: 'action.created', action: action('completed') });
  expect(all).toHaveLength(1);
  stopAll();
  stopAll();
  expect(events.wants('action.created')).toBe(false);
  stopHeld();
  stopDecided();
  expect(events.wants('action.decided')).toBe(false);
  expect(events.size).toBe(0);
});

test('a tool check emits no action.created that nobody takes; a held one reaches the channels', async () => {
  const t = await startAdminTestServer({ workers: false }, { listen: false });
  try {
    const emit = vi.spyOn(t.server.events, 'emit');
    const check = async (tool: string) => {
      const answer = await t.request('POST', '/policy/check', {
        body: { tool_name: tool, kwargs: {} },
      });
      expect(answer.status, answer.text).toBe(200);
      return answer.json.decision as string;
    };
    await t.server.policies.saveSet(t.agent.id, 'live', [
      { name: 'Held', tool: 'held.tool', action: 'requires_approval' },
      { name: 'Free', tool: 'free.tool', action: 'allow' },
    ]);
    // The dashboard's stream, with no client, stops listening at the first event; then only the
    // budgets listen (to decisions), and nothing is built for an allowed call.
    expect(await check('free.tool')).toBe('allow');
    expect(t.server.events.wants('action.created')).toBe(false);
    emit.mockClear();
    expect(await check('free.tool')).toBe('allow');
    expect(emit).not.toHaveBeenCalled();
    // The channel worker takes held calls only.
    const created: string[] = [];
    const stop = t.server.events.subscribe(
      (event) => created.push(event.type),
      ['action.created:pending'],
    );
    expect(await check('free.tool')).toBe('allow');
    expect(emit).not.toHaveBeenCalled();
    expect(await check('held.tool')).toBe('requires_approval');
    expect(created).toEqual(['action.created']);
    stop();
  } finally {
    await t.close();
  }
});
