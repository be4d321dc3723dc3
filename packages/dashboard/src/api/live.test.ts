import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeLive } from '../test-helpers';
import type { LiveEvent } from './types';

const event: LiveEvent = {
  type: 'action.reported',
  at: '2026-11-24T10:00:00.000Z',
  action_id: 'a1',
};

afterEach(() => vi.useRealTimers());

describe('LiveConnection', () => {
  it('delivers named and unnamed events, and reports its state', () => {
    const live = fakeLive();
    const states: string[] = [];
    const events: LiveEvent[] = [];
    live.connection.onState((state) => states.push(state));
    live.connection.subscribe((received) => events.push(received));
    live.connection.start();
    expect(live.current.url).toBe('api/v1/events');
    live.current.open();
    live.current.send(event);
    live.current.send(event, false);
    expect(events).toHaveLength(2);
    expect(states).toEqual(['open']);
  });

  it('shows the loss, and resyncs when the browser reconnects by itself', () => {
    const live = fakeLive();
    const resync = vi.fn();
    live.connection.onResync(resync);
    live.connection.start();
    live.current.open();
    live.current.fail();
    expect(live.connection.state).toBe('lost');
    live.current.open();
    expect(live.connection.state).toBe('open');
    expect(resync).toHaveBeenCalledTimes(1);
  });

  it('reconnects with a growing delay when the browser gives up, and resyncs', () => {
    vi.useFakeTimers();
    const live = fakeLive();
    const resync = vi.fn();
    live.connection.onResync(resync);
    live.connection.start();
    live.current.fail(true);
    expect(live.sources).toHaveLength(1);
    expect(live.sources[0]?.closed).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(live.sources).toHaveLength(2);
    live.current.fail(true);
    vi.advanceTimersByTime(1_000);
    expect(live.sources).toHaveLength(2);
    vi.advanceTimersByTime(1_000);
    expect(live.sources).toHaveLength(3);
    live.current.open();
    expect(resync).toHaveBeenCalledTimes(1);
    expect(live.connection.state).toBe('open');
  });

  it('resyncs when the server says events were lost (event: reset)', () => {
    const live = fakeLive();
    const resync = vi.fn();
    live.connection.onResync(resync);
    live.connection.start();
    live.current.open();
    live.current.send({ type: 'reset' } as unknown as LiveEvent);
    expect(resync).toHaveBeenCalledTimes(1);
  });

  it('stops for good', () => {
    vi.useFakeTimers();
    const live = fakeLive();
    live.connection.start();
    live.connection.stop();
    expect(live.current.closed).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(live.sources).toHaveLength(1);
  });
});
