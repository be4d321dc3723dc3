import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { action, fakeApi, me, renderApp, supportAgent } from '../test-helpers';

afterEach(() => vi.unstubAllGlobals());

const slack = {
  id: 'c1',
  name: 'slack',
  kind: 'slack' as const,
  config: { channel: '#approvals' },
  secrets_set: ['bot_token', 'signing_secret'],
  enabled: true,
  failing: true,
  failing_since: '2026-12-06T07:00:00.000Z',
  last_error: 'Slack refused: channel_not_found',
  interactivity_url: 'http://arden.test/channels/slack/c1/interactions',
  created_at: '2026-12-06T06:00:00.000Z',
  updated_at: '2026-12-06T06:00:00.000Z',
};

const message = {
  id: 'm1',
  action_id: 'a1',
  channel_id: 'c1',
  channel_name: 'slack',
  job: 'notify' as const,
  target: '#payments',
  status: 'failed' as const,
  attempts: 7,
  next_attempt_at: '2026-12-06T07:00:00.000Z',
  last_status: 200,
  last_error: 'Slack refused: channel_not_found',
  created_at: '2026-12-06T06:00:00.000Z',
  delivered_at: null,
  attempt_log: [],
};

describe('channels', () => {
  it('shows a failing channel with its error, and lets an admin disable it', async () => {
    const api = fakeApi({
      'GET me': () => me('admin'),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET channels': () => ({ items: [slack] }),
      'PATCH channels/:id': () => ({ ...slack, enabled: false }),
    });
    renderApp('#/channels');
    const table = await screen.findByRole('table', { name: 'Channels' });
    expect(within(table).getByText('failing')).toBeTruthy();
    expect(within(table).getByText('Slack refused: channel_not_found')).toBeTruthy();
    expect(table.textContent).not.toContain('xoxb');
    fireEvent.click(within(table).getByRole('button', { name: 'Disable' }));
    await waitFor(() =>
      expect(api.received.find((r) => r.method === 'PATCH')?.body).toEqual({ enabled: false }),
    );
  });

  it("lists an action's channel messages and sends a failed one again", async () => {
    const api = fakeApi({
      'GET me': () => me('approver'),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET actions/:id': () => ({
        ...action({ id: 'a1', status: 'pending', decision: 'requires_approval' }),
        agent_name: 'support-bot',
        decided_by_email: null,
        deliveries: [],
      }),
      'GET actions/:id/channel-messages': () => ({ items: [message] }),
      'POST channel-messages/:id/resend': () => ({ ...message, status: 'pending' }),
    });
    renderApp('#/actions/a1');
    const table = await screen.findByRole('table', { name: 'Channel messages' });
    expect(within(table).getByText('#payments')).toBeTruthy();
    fireEvent.click(within(table).getByRole('button', { name: 'Send again' }));
    await waitFor(() =>
      expect(
        api.received.some((r) => r.method === 'POST' && r.path === 'channel-messages/m1/resend'),
      ).toBe(true),
    );
  });
});
