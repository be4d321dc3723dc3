import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createQueryClient, queryKeys } from './api/queries';
import { App } from './app';
import { fakeApi, fakeLive, me, supportAgent } from './test-helpers';

afterEach(() => vi.unstubAllGlobals());

describe('the query cache', () => {
  it('is emptied on sign-out, so the next user sees nothing of the last one', async () => {
    fakeApi({
      'GET me': () => me('admin'),
      'POST auth/logout': () => ({ ok: true }),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
    });
    const client = createQueryClient();
    window.location.hash = '#/approvals';
    render(<App connection={fakeLive().connection} queryClient={client} />);
    expect(await screen.findByText('Nothing is waiting for approval.')).toBeTruthy();
    expect(client.getQueryData(queryKeys.agents)).toEqual({
      items: [supportAgent],
      next_cursor: null,
    });
    await userEvent.setup().click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeTruthy();
    expect(client.getQueryCache().getAll()).toEqual([]);
  });
});
