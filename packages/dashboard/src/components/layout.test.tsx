import { act, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Role } from '../api/types';
import { fakeApi, me, renderApp, supportAgent } from '../test-helpers';

function routes(role: Role) {
  return {
    'GET me': () => me(role),
    'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
    'GET approvals': () => ({ items: [], next_cursor: null }),
  };
}

afterEach(() => vi.unstubAllGlobals());

describe('Layout', () => {
  it('shows when the live connection is lost and when it is back', async () => {
    fakeApi(routes('admin'));
    const { live } = renderApp('#/approvals');
    await screen.findByText('Nothing is waiting for approval.');
    expect(screen.getByText('Connecting…')).toBeTruthy();
    act(() => live.current.open());
    expect(screen.getByText('Live')).toBeTruthy();
    act(() => live.current.fail());
    expect(screen.getByText('Connection lost — reconnecting…')).toBeTruthy();
    act(() => live.current.open());
    expect(screen.queryByText('Connection lost — reconnecting…')).toBeNull();
    expect(screen.getByText('Live')).toBeTruthy();
  });

  it('shows Users only to admins', async () => {
    fakeApi(routes('viewer'));
    renderApp('#/approvals');
    await screen.findByText('Nothing is waiting for approval.');
    const navigation = screen.getByRole('navigation', { name: 'Main' });
    expect(within(navigation).queryByRole('link', { name: 'Users' })).toBeNull();
    expect(within(navigation).getByRole('link', { name: 'Policies' })).toBeTruthy();
  });
});
