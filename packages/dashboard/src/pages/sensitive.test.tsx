import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SensitiveRead } from '../api/types';
import { action, fakeApi, me, Reply, renderApp, supportAgent } from '../test-helpers';

// The action page shows a call's sensitive arguments (a policy's `redact`) masked; an admin can
// read them in full after a confirmation that the read is logged, and the page shows the log.

afterEach(() => vi.unstubAllGlobals());

// As the server stores it: the sensitive values masked, the others with their bytes.
const maskedKwargs =
  '{"card":{"number":"[redacted]","cvc":"123"},"order_id":12345678901234567891,"amount":1.0}';
// As the agent sent it, byte for byte (spaces, 1.0, a 20-digit integer).
const verbatimKwargs =
  '{"card": {"number": "4242424242424242", "cvc": "123"}, "order_id": 12345678901234567891, "amount": 1.0}';

const held = action({
  id: 'a-pay',
  tool_name: 'pay',
  decision: 'requires_approval',
  status: 'pending',
  kwargs: JSON.parse(maskedKwargs),
});
const detail = {
  ...held,
  kwargs_json: maskedKwargs,
  agent_name: 'support-bot',
  decided_by_email: null,
  deliveries: [],
  sensitive_paths: ['card.number'],
};

function serve(role: 'admin' | 'viewer', reads: SensitiveRead[], reveal?: () => unknown) {
  return fakeApi({
    'GET me': () => me(role),
    'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
    'GET approvals': () => ({ items: [], next_cursor: null }),
    'GET actions/:id': () => detail,
    'GET actions/:id/channel-messages': () => ({ items: [] }),
    'GET actions/:id/sensitive/reads': () => ({ items: reads }),
    'POST actions/:id/sensitive/reveal': (request) => {
      if (reveal) return reveal();
      const read = {
        id: `read-${reads.length + 1}`,
        user_id: 'user-admin',
        user_email: 'admin@example.com',
        reason: (request.body as { reason?: string }).reason ?? null,
        read_at: '2026-12-07T05:00:00.000Z',
      };
      reads.push(read);
      return {
        action_id: 'a-pay',
        paths: ['card.number'],
        args_json: '[]',
        kwargs_json: verbatimKwargs,
        read_at: read.read_at,
      };
    },
  });
}

function argument(name: string): HTMLElement {
  const term = screen
    .getAllByRole('term')
    .find((element) => element.textContent === name) as HTMLElement;
  return term.nextElementSibling as HTMLElement;
}

describe('sensitive arguments on the action page', () => {
  it('an admin reveals them after a confirmation that the read is logged; the values show exact, the log lists the read', async () => {
    const reads: SensitiveRead[] = [];
    const api = serve('admin', reads);
    renderApp('#/actions/a-pay');

    // Masked as stored, with the paths named.
    const note = await screen.findByTestId('sensitive-masked');
    expect(note.textContent).toContain('card.number');
    expect(argument('card').textContent).toContain('[redacted]');
    const log = await screen.findByRole('region', { name: 'Sensitive argument reads' });
    expect(await within(log).findByText('Nobody has read them in full.')).toBeTruthy();

    // Reveal asks first, and says the read is logged; Cancel asks nothing of the server.
    fireEvent.click(screen.getByRole('button', { name: 'Reveal' }));
    let form = screen.getByRole('form', { name: 'Reveal sensitive values' });
    expect(form.textContent).toContain('is logged');
    fireEvent.click(within(form).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('form', { name: 'Reveal sensitive values' })).toBeNull();
    expect(api.received.some((request) => request.method === 'POST')).toBe(false);

    fireEvent.click(screen.getByRole('button', { name: 'Reveal' }));
    form = screen.getByRole('form', { name: 'Reveal sensitive values' });
    fireEvent.change(within(form).getByLabelText(/Reason/), {
      target: { value: 'chargeback 123' },
    });
    fireEvent.click(within(form).getByRole('button', { name: 'Reveal and log the read' }));

    const shown = await screen.findByTestId('sensitive-revealed');
    expect(shown.textContent).toContain('logged');
    const posts = api.received.filter((request) => request.method === 'POST');
    expect(posts).toEqual([
      expect.objectContaining({
        path: 'actions/a-pay/sensitive/reveal',
        body: { reason: 'chargeback 123' },
      }),
    ]);
    // In place, with the bytes the agent sent (not re-serialised: no rounding, 1.0 stays).
    expect(argument('card').textContent).toContain('4242424242424242');
    expect(argument('card').textContent).not.toContain('[redacted]');
    expect(argument('order_id').textContent).toBe('12345678901234567891');
    expect(argument('amount').textContent).toBe('1.0');

    // The log is read again and names the admin and the reason.
    await waitFor(() => expect(within(log).getByText('admin@example.com')).toBeTruthy());
    expect(within(log).getByText('chargeback 123')).toBeTruthy();

    // Hide: masked again, and the Reveal control is back.
    fireEvent.click(within(shown).getByRole('button', { name: 'Hide' }));
    expect(argument('card').textContent).toContain('[redacted]');
    expect(screen.getByRole('button', { name: 'Reveal' })).toBeTruthy();
  });

  it('a viewer sees them masked and the log, and no Reveal control', async () => {
    const api = serve('viewer', [
      {
        id: 'r1',
        user_id: 'user-admin',
        user_email: 'admin@example.com',
        reason: 'fraud review',
        read_at: '2026-12-07T04:00:00.000Z',
      },
      {
        id: 'r2',
        user_id: null,
        user_email: null,
        reason: 'webhook delivery evt_1: …',
        read_at: '2026-12-07T04:01:00.000Z',
      },
    ]);
    renderApp('#/actions/a-pay');
    const log = await screen.findByRole('region', { name: 'Sensitive argument reads' });
    await within(log).findByText('admin@example.com');
    expect(within(log).getByText(/a webhook delivery/)).toBeTruthy();
    expect(argument('card').textContent).toContain('[redacted]');
    expect(screen.getByTestId('sensitive-masked').textContent).toContain('Only an admin');
    expect(screen.queryByRole('button', { name: 'Reveal' })).toBeNull();
    expect(api.received.some((request) => request.path.endsWith('/reveal'))).toBe(false);
  });

  it("shows the server's refusal and keeps the values masked", async () => {
    serve('admin', [], () => {
      throw new Reply(403, { error: 'This needs the admin role.' });
    });
    renderApp('#/actions/a-pay');
    fireEvent.click(await screen.findByRole('button', { name: 'Reveal' }));
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Reveal and log the read' }));
    });
    expect((await screen.findByRole('alert')).textContent).toContain('needs the admin role');
    expect(argument('card').textContent).toContain('[redacted]');
    expect(screen.queryByTestId('sensitive-revealed')).toBeNull();
  });

  it('a call without sensitive arguments shows no note, no control and no log', async () => {
    const api = fakeApi({
      'GET me': () => me('admin'),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET actions/:id': () => ({ ...detail, kwargs_json: '{"amount":1}', sensitive_paths: [] }),
      'GET actions/:id/channel-messages': () => ({ items: [] }),
    });
    renderApp('#/actions/a-pay');
    await screen.findByRole('region', { name: 'Channel messages' });
    expect(screen.queryByTestId('sensitive-masked')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Reveal' })).toBeNull();
    expect(screen.queryByRole('region', { name: 'Sensitive argument reads' })).toBeNull();
    expect(api.received.some((request) => request.path.includes('sensitive'))).toBe(false);
  });
});
