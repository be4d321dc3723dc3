import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, me, Reply, renderApp, supportAgent } from '../test-helpers';

afterEach(() => vi.unstubAllGlobals());

describe('Sign in', () => {
  it('signs in, then out', async () => {
    let session = false;
    const api = fakeApi({
      'GET me': () => {
        if (!session) throw new Reply(401, { error: 'Log in first.' });
        return me('admin');
      },
      'POST auth/login': (request) => {
        const body = request.body as { email: string; password: string };
        if (body.password !== 'right') throw new Reply(401, { error: 'Wrong email or password.' });
        session = true;
        return { user: me('admin').user, expires_at: '2026-11-25T00:00:00.000Z' };
      },
      'POST auth/logout': () => {
        session = false;
        return { ok: true };
      },
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
    });
    renderApp('#/approvals');
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Email'), 'admin@example.com');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toBe('Wrong email or password.');
    await user.clear(screen.getByLabelText('Password'));
    await user.type(screen.getByLabelText('Password'), 'right');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('Nothing is waiting for approval.')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Users' })).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeTruthy();
    expect(api.received.some((request) => request.path === 'auth/logout')).toBe(true);
  });

  it('returns to the sign-in page with a notice when the session ends', async () => {
    let session = true;
    fakeApi({
      'GET me': () => {
        if (!session) throw new Reply(401, { error: 'Log in first.' });
        return me('approver');
      },
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET actions': () => {
        throw new Reply(401, { error: 'Your session expired.' });
      },
    });
    renderApp('#/approvals');
    await screen.findByText('Nothing is waiting for approval.');
    session = false;
    window.location.hash = '#/actions';
    expect(await screen.findByText('Your session ended. Sign in again to go on.')).toBeTruthy();
  });
});
