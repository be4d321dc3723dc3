import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Agent } from '../api/types';
import { fakeApi, me, renderApp, supportAgent } from '../test-helpers';

afterEach(() => vi.unstubAllGlobals());

const users = [
  { ...me('admin').user, id: 'user-admin' },
  { ...me('approver').user, id: 'user-cat', email: 'cat@example.com' },
];

function agentApi(role: 'admin' | 'viewer', initial: Partial<Agent> = {}) {
  let agent: Agent = { ...supportAgent, ...initial };
  const api = fakeApi({
    'GET me': () => me(role),
    'GET agents': () => ({ items: [agent], next_cursor: null }),
    'GET approvals': () => ({ items: [], next_cursor: null }),
    'GET agents/:id': () => ({ ...agent, keys: [] }),
    'GET agents/:id/keys': () => ({ items: [] }),
    'GET users': () => ({ items: users }),
    'PATCH agents/:id': (request) => {
      const body = request.body as { owner?: string | null; webhook_sensitive_in_full?: boolean };
      agent = {
        ...agent,
        ...(body.owner !== undefined ? { owner_user_id: body.owner } : {}),
        ...(body.webhook_sensitive_in_full !== undefined
          ? { webhook_sensitive_in_full: body.webhook_sensitive_in_full }
          : {}),
      };
      return agent;
    },
  });
  return api;
}

describe("an agent's owner and sensitive values in webhooks", () => {
  it('an admin sets the owner and lets webhooks carry sensitive values in full, then masks them again', async () => {
    const api = agentApi('admin');
    vi.stubGlobal('confirm', () => true);
    renderApp('#/agents/agent-1');
    const owner = await screen.findByRole('region', { name: 'Owner' });
    const select = within(owner).getByLabelText('Owner') as HTMLSelectElement;
    await waitFor(() => expect(within(select).getByText('cat@example.com')).toBeTruthy());
    await userEvent.selectOptions(select, 'user-cat');
    await userEvent.click(within(owner).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(within(owner).getByRole('status').textContent).toBe('Saved.'));
    expect(api.received.find((request) => request.method === 'PATCH')?.body).toEqual({
      owner: 'user-cat',
    });

    const webhook = screen.getByRole('region', { name: 'Webhook' });
    expect(within(webhook).getByTestId('webhook-sensitive').textContent).toContain('[redacted]');
    await userEvent.click(
      within(webhook).getByRole('button', { name: 'Send sensitive values in full' }),
    );
    await waitFor(() =>
      expect(within(webhook).getByTestId('webhook-sensitive').textContent).toContain(
        'in full; each such delivery is logged',
      ),
    );
    await userEvent.click(
      within(webhook).getByRole('button', { name: 'Mask sensitive values in webhooks' }),
    );
    await waitFor(() =>
      expect(within(webhook).getByTestId('webhook-sensitive').textContent).toContain('[redacted]'),
    );
    expect(
      api.received
        .filter((request) => request.method === 'PATCH')
        .map((request) => request.body)
        .slice(1),
    ).toEqual([{ webhook_sensitive_in_full: true }, { webhook_sensitive_in_full: false }]);
  });

  it('a viewer sees the setting and no buttons', async () => {
    agentApi('viewer', { owner_user_id: 'user-cat', webhook_sensitive_in_full: true });
    renderApp('#/agents/agent-1');
    const owner = await screen.findByRole('region', { name: 'Owner' });
    expect(within(owner).getByTestId('agent-owner').textContent).toBe('user-cat');
    expect(within(owner).queryByRole('button')).toBeNull();
    const webhook = screen.getByRole('region', { name: 'Webhook' });
    expect(within(webhook).getByTestId('webhook-sensitive').textContent).toContain('in full');
    expect(within(webhook).queryByRole('button', { name: /sensitive/ })).toBeNull();
  });
});
