import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Approval } from '../api/types';
import {
  action,
  approval,
  fakeApi,
  me,
  Reply,
  renderApp,
  supportAgent,
  twoPersonState,
} from '../test-helpers';

function routes(role: 'admin' | 'approver' | 'viewer', queue: Approval[]) {
  return {
    'GET me': () => me(role),
    'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
    'GET approvals': () => ({ items: queue, next_cursor: null }),
  };
}

afterEach(() => vi.unstubAllGlobals());

describe('Approvals', () => {
  it('shows a held call with its arguments, rule, agent, session, waiting time and expiry', async () => {
    fakeApi(routes('approver', [approval({ kwargs: { amount: 150, note: 'x'.repeat(500) } })]));
    renderApp('#/approvals');
    const card = await screen.findByRole('article', { name: 'stripe.issue_refund' });
    expect(within(card).getByText('support-bot')).toBeTruthy();
    expect(within(card).getByText('Refunds v3 (stripe.issue_refund), rule 1')).toBeTruthy();
    expect(within(card).getByRole('link', { name: 'session-1' })).toBeTruthy();
    expect(within(card).getByText(/^1 min/)).toBeTruthy();
    expect(within(card).getByText(/^in 5\d min|^in 1 h/)).toBeTruthy();
    // A long value is folded.
    expect(within(card).getByRole('button', { name: 'show all 500 characters' })).toBeTruthy();
  });

  it('says when a call is held because a condition could not be evaluated', async () => {
    fakeApi(routes('approver', [approval({ reason: 'condition_error' })]));
    renderApp('#/approvals');
    const card = await screen.findByRole('article', { name: 'stripe.issue_refund' });
    expect(
      within(card).getByText('Refunds v3 (stripe.issue_refund), held: condition error in rule 1'),
    ).toBeTruthy();
  });

  it('shows the arguments exactly as the agent sent them (no rounding, escapes kept)', async () => {
    fakeApi(
      routes('approver', [
        approval({
          args_json: '[9007199254740993]',
          kwargs_json:
            '{"order_id": 12345678901234567891, "amount": 1.0, "note": "caf\\u00e9", "items": [1.50]}',
        }),
      ]),
    );
    renderApp('#/approvals');
    const card = await screen.findByRole('article', { name: 'stripe.issue_refund' });
    expect(within(card).getByText('12345678901234567891')).toBeTruthy();
    expect(within(card).getByText('9007199254740993')).toBeTruthy();
    expect(within(card).getByText('1.0')).toBeTruthy();
    expect(within(card).getByText('"caf\\u00e9"')).toBeTruthy();
    expect(within(card).getByText(/1\.50/)).toBeTruthy();
  });

  it('adds a call held elsewhere live, and removes it at once when decided elsewhere', async () => {
    fakeApi(routes('approver', []));
    const { live } = renderApp('#/approvals');
    expect(await screen.findByText('Nothing is waiting for approval.')).toBeTruthy();
    act(() => live.current.open());
    act(() =>
      live.current.send({
        type: 'action.created',
        at: new Date().toISOString(),
        action: action({ id: 'held-2', tool_name: 'db.drop_table' }),
      }),
    );
    expect(await screen.findByRole('article', { name: 'db.drop_table' })).toBeTruthy();
    expect(screen.getByRole('navigation').textContent).toContain('Approvals1 waiting');
    // Allowed calls are not queued.
    act(() =>
      live.current.send({
        type: 'action.created',
        at: new Date().toISOString(),
        action: action({
          id: 'allowed',
          tool_name: 'search',
          decision: 'allow',
          status: 'completed',
        }),
      }),
    );
    expect(screen.queryByRole('article', { name: 'search' })).toBeNull();
    act(() =>
      live.current.send(
        {
          type: 'action.decided',
          at: new Date().toISOString(),
          action: action({ id: 'held-2', tool_name: 'db.drop_table', status: 'approved' }),
        },
        false,
      ),
    );
    expect(screen.queryByRole('article', { name: 'db.drop_table' })).toBeNull();
    expect(screen.getByText('Nothing is waiting for approval.')).toBeTruthy();
  });

  it('updates "1 of 2" and who approved live when another approver votes', async () => {
    fakeApi(routes('approver', [approval({ id: 'held-2', approval: twoPersonState([]) })]));
    const { live } = renderApp('#/approvals');
    const card = await screen.findByRole('article', { name: 'stripe.issue_refund' });
    expect(within(card).getByTestId('approval-progress').textContent).toBe(
      '0 of 2 approvals, from finance',
    );
    act(() => live.current.open());
    const voted = (approvers: string[]) =>
      live.current.send({
        type: 'action.voted',
        at: new Date().toISOString(),
        action: action({ id: 'held-2', approval: twoPersonState(approvers) }),
        action_id: 'held-2',
      });
    act(() => voted(['ann@example.com']));
    await waitFor(() =>
      expect(within(card).getByTestId('approval-progress').textContent).toBe(
        '1 of 2 approvals (ann@example.com), from finance',
      ),
    );
    // An older event arriving late (through another replica) does not undo the newer.
    act(() => voted([]));
    expect(within(card).getByTestId('approval-progress').textContent).toBe(
      '1 of 2 approvals (ann@example.com), from finance',
    );
    // The second approval decides it: off the queue.
    act(() =>
      live.current.send({
        type: 'action.decided',
        at: new Date().toISOString(),
        action: action({ id: 'held-2', status: 'approved' }),
      }),
    );
    expect(await screen.findByText('Nothing is waiting for approval.')).toBeTruthy();
  });

  it('approves the focused call with the a key, sending the note', async () => {
    const api = fakeApi({
      ...routes('approver', [
        approval({ id: 'a1' }),
        approval({ id: 'a2', tool_name: 'email.send' }),
      ]),
      'POST approvals/:id/approve': (request) =>
        action({ id: request.path.split('/')[1], status: 'approved' }),
    });
    renderApp('#/approvals');
    const user = userEvent.setup();
    const card = await screen.findByRole('article', { name: 'stripe.issue_refund' });
    await user.click(within(card).getByLabelText(/Note/));
    await user.keyboard('Refund is fine');
    await user.keyboard('{Escape}');
    expect(document.activeElement).toBe(card);
    await user.keyboard('a');
    await waitFor(() =>
      expect(screen.queryByRole('article', { name: 'stripe.issue_refund' })).toBeNull(),
    );
    const call = api.received.find((request) => request.path === 'approvals/a1/approve');
    expect(call?.body).toEqual({ notes: 'Refund is fine' });
    // Focus moves on to the next call.
    await waitFor(() =>
      expect(document.activeElement).toBe(screen.getByRole('article', { name: 'email.send' })),
    );
    expect(screen.getByText('Approved stripe.issue_refund.')).toBeTruthy();
  });

  it('denies with the d key', async () => {
    const api = fakeApi({
      ...routes('approver', [approval({ id: 'd1' })]),
      'POST approvals/:id/deny': () => action({ id: 'd1', status: 'denied' }),
    });
    renderApp('#/approvals');
    const user = userEvent.setup();
    const card = await screen.findByRole('article', { name: 'stripe.issue_refund' });
    card.focus();
    await user.keyboard('d');
    await waitFor(() =>
      expect(api.received.some((r) => r.path === 'approvals/d1/deny')).toBe(true),
    );
    await screen.findByText('Nothing is waiting for approval.');
  });

  it('takes a call off the queue when someone else decided it first (409)', async () => {
    fakeApi({
      ...routes('admin', [approval({ id: 'c1' })]),
      'POST approvals/:id/approve': () => {
        throw new Reply(409, { error: 'Action c1 was already approved.' });
      },
    });
    renderApp('#/approvals');
    const user = userEvent.setup();
    const card = await screen.findByRole('article', { name: 'stripe.issue_refund' });
    await user.click(within(card).getByRole('button', { name: 'Approve' }));
    await screen.findByText(/already decided elsewhere/);
    expect(screen.queryByRole('article', { name: 'stripe.issue_refund' })).toBeNull();
  });

  it('shows a viewer no approve or deny button, and the shortcuts do nothing', async () => {
    const api = fakeApi(routes('viewer', [approval({ id: 'v1' })]));
    renderApp('#/approvals');
    const card = await screen.findByRole('article', { name: 'stripe.issue_refund' });
    expect(within(card).queryByRole('button', { name: 'Approve' })).toBeNull();
    expect(within(card).queryByRole('button', { name: 'Deny' })).toBeNull();
    expect(screen.getByText(/your role is viewer/)).toBeTruthy();
    card.focus();
    await userEvent.setup().keyboard('a');
    expect(api.received.some((request) => request.method === 'POST')).toBe(false);
  });
});
