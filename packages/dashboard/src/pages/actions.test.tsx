import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { action, fakeApi, me, renderApp, supportAgent } from '../test-helpers';
import { matchesFilters, maxRows } from './actions';

afterEach(() => vi.unstubAllGlobals());

describe('Actions', () => {
  it('keeps filters in the URL, sends them to the server, and pages with the cursor', async () => {
    const api = fakeApi({
      'GET me': () => me('viewer'),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET actions': (request) =>
        request.query.get('cursor') === 'c2'
          ? { items: [action({ id: 'old', tool_name: 'stripe.old_refund' })], next_cursor: null }
          : { items: [action({ id: 'new', tool_name: 'stripe.issue_refund' })], next_cursor: 'c2' },
    });
    const { live } = renderApp('#/actions?decision=requires_approval&tool=stripe.*');
    const table = await screen.findByRole('table', { name: 'Actions' });
    const first = api.received.find((request) => request.path === 'actions');
    expect(Object.fromEntries(first!.query)).toEqual({
      decision: 'requires_approval',
      tool: 'stripe.*',
      limit: '50',
    });
    expect((screen.getByLabelText('Decision') as HTMLSelectElement).value).toBe(
      'requires_approval',
    );

    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Load more' }));
    await within(table).findByText('stripe.old_refund');
    expect(screen.getByText('That is all.')).toBeTruthy();

    // A new matching action appears at the top at once; one that does not match does not.
    act(() => live.current.open());
    act(() =>
      live.current.send({
        type: 'action.created',
        at: new Date().toISOString(),
        action: action({ id: 'live-1', tool_name: 'stripe.capture' }),
      }),
    );
    act(() =>
      live.current.send({
        type: 'action.created',
        at: new Date().toISOString(),
        action: action({ id: 'live-2', tool_name: 'email.send' }),
      }),
    );
    await waitFor(() =>
      expect(within(table).getAllByRole('row')[1]?.textContent).toContain('stripe.capture'),
    );
    expect(within(table).queryByText('email.send')).toBeNull();

    await user.selectOptions(screen.getByLabelText('Environment'), 'live');
    await waitFor(() => expect(window.location.hash).toContain('environment=live'));
    await waitFor(() =>
      expect(
        api.received
          .filter((request) => request.path === 'actions')
          .at(-1)
          ?.query.get('environment'),
      ).toBe('live'),
    );
  });

  it('matches live actions against the filters', () => {
    const item = action({ tool_name: 'stripe.refund', status: 'pending', environment: 'live' });
    expect(matchesFilters(item, { tool: 'stripe.*', status: 'pending,approved' })).toBe(true);
    expect(matchesFilters(item, { tool: 'stripe.refun' })).toBe(false);
    expect(matchesFilters(item, { environment: 'test' })).toBe(false);
    expect(matchesFilters(item, { to: new Date(Date.now() - 3_600_000).toISOString() })).toBe(
      false,
    );
  });
});

describe('Actions under load', () => {
  it('applies a burst of live events in one batch and keeps the page bounded', async () => {
    fakeApi({
      'GET me': () => me('viewer'),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET actions': () => ({
        items: [action({ id: 'first', tool_name: 'first.tool' })],
        next_cursor: 'more',
      }),
    });
    const { live } = renderApp('#/actions');
    const table = await screen.findByRole('table', { name: 'Actions' });
    act(() => live.current.open());
    act(() => {
      for (let index = 0; index < maxRows + 500; index++) {
        live.current.send({
          type: 'action.created',
          at: new Date().toISOString(),
          action: action({ id: `burst-${index}`, tool_name: 'burst.tool', status: 'completed' }),
        });
      }
    });
    await screen.findByText(/Older rows were dropped/, {}, { timeout: 20_000 });
    // The table is virtualised: it says how many rows it has, and renders those in view.
    expect(table.getAttribute('aria-rowcount')).toBe(String(maxRows + 1));
    expect(screen.getByText(`${maxRows.toLocaleString()} shown`)).toBeTruthy();
    const rows = within(table)
      .getAllByRole('row')
      .filter((row) => !row.classList.contains('row-spacer'));
    expect(rows.length).toBeGreaterThan(1);
    expect(rows.length).toBeLessThan(200);
    expect(rows[1]?.textContent).toContain('burst.tool');
    expect(rows[1]?.getAttribute('aria-rowindex')).toBe('2');
    expect(screen.queryByText('first.tool')).toBeNull();
    expect(screen.getByRole('button', { name: 'Reload to page through them' })).toBeTruthy();
  }, 40_000);
});

describe('Action detail', () => {
  it('shows arguments and metadata exactly as the agent sent them', async () => {
    const sent = action({
      id: 'exact',
      args_json: '[9007199254740993]',
      kwargs_json: '{"order_id": 12345678901234567891, "ratio": 1.0, "items": [1.50, -0]}',
      metadata: { session_id: 'session-1', trace: 1 },
      metadata_json: '{"session_id": "session-1", "trace": 12345678901234567891.0e0}',
    });
    fakeApi({
      'GET me': () => me('viewer'),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET actions/:id': () => ({
        ...sent,
        agent_name: 'support-bot',
        decided_by_email: null,
        deliveries: [],
      }),
    });
    renderApp('#/actions/exact');
    expect(await screen.findByText('12345678901234567891')).toBeTruthy();
    expect(screen.getByText('9007199254740993')).toBeTruthy();
    expect(screen.getByText('1.0')).toBeTruthy();
    expect(screen.getByText(/^\[\s*1\.50,\s*-0\s*\]$/)).toBeTruthy();
    expect(screen.getByText(/"trace": 12345678901234567891\.0e0/)).toBeTruthy();
  });
});
