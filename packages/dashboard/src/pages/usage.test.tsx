import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, me, renderApp, supportAgent } from '../test-helpers';

afterEach(() => vi.unstubAllGlobals());

const zero = {
  events: 0,
  prompt_tokens: 0,
  completion_tokens: 0,
  total_tokens: 0,
  cost_usd: 0,
  unpriced_events: 0,
};

describe('Usage', () => {
  it('"All time" asks for usage with no lower bound, and keeps the choice in the URL', async () => {
    const api = fakeApi({
      'GET me': () => me('viewer'),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET usage': (request) => ({
        group_by: request.query.get('group_by'),
        from: request.query.get('from'),
        to: null,
        totals: { ...zero, events: 3, cost_usd: 1.5 },
        items: [],
      }),
    });
    renderApp('#/usage');
    const range = (await screen.findByLabelText('Range')) as HTMLSelectElement;
    expect(range.value).toBe('30d');
    await waitFor(() =>
      expect(api.received.some((request) => request.path === 'usage')).toBe(true),
    );
    expect(
      api.received
        .filter((request) => request.path === 'usage')
        .every((request) => request.query.get('from')),
    ).toBe(true);
    const before = api.received.length;
    await userEvent.setup().selectOptions(range, 'All time');
    expect(window.location.hash).toContain('range=all');
    await waitFor(() =>
      expect(api.received.slice(before).some((request) => request.path === 'usage')).toBe(true),
    );
    const allTime = api.received.slice(before).filter((request) => request.path === 'usage');
    for (const request of allTime) {
      expect(request.query.get('from')).toBeNull();
      expect(request.query.get('to')).toBeNull();
    }
  });
});
