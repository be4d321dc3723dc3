import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PolicySet, Role } from '../api/types';
import { fakeApi, Lines, me, Reply, renderApp, supportAgent } from '../test-helpers';

const saved: PolicySet = {
  agent_id: 'agent-1',
  environment: 'test',
  version: 2,
  policies: [
    {
      name: 'Refunds',
      tool: 'stripe.issue_refund',
      rules: [{ if: 'args.amount <= 50', then: 'allow' }],
      default: 'requires_approval',
    },
  ],
  updated_at: '2026-11-24T10:00:00.000Z',
  updated_by: 'user-admin',
};

function routes(role: Role) {
  return {
    'GET me': () => me(role),
    'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
    'GET approvals': () => ({ items: [], next_cursor: null }),
    'GET agents/:id/policies/:environment': () => saved,
  };
}

afterEach(() => vi.unstubAllGlobals());

describe('Policies', () => {
  it('shows the rules to everyone, and no editor to an approver', async () => {
    fakeApi(routes('approver'));
    renderApp('#/policies');
    expect(await screen.findByText('args.amount <= 50')).toBeTruthy();
    const tabs = screen.getByRole('tablist');
    expect(within(tabs).queryByRole('tab', { name: 'Edit and simulate' })).toBeNull();
    expect(within(tabs).getByRole('tab', { name: 'YAML' })).toBeTruthy();
    // Even a hand-written URL to the editor shows the rules.
    window.location.hash = '#/policies?tab=editor';
    await waitFor(() =>
      expect(screen.getByRole('tab', { name: 'Rules' }).getAttribute('aria-selected')).toBe('true'),
    );
    expect(screen.queryByRole('textbox', { name: 'Policies (YAML)' })).toBeNull();
  });

  it('validates as you type and shows a CEL error at its line and column', async () => {
    const api = fakeApi({
      ...routes('admin'),
      'POST agents/:id/policies/:environment/validate': (request) => {
        const policies = (request.body as { policies: { rules?: { if: string }[] }[] }).policies;
        const condition = policies[0]?.rules?.[0]?.if ?? '';
        return condition.endsWith('<=')
          ? {
              valid: false,
              issues: [
                {
                  policy: 'Refunds',
                  path: [0, 'rules', 0, 'if'],
                  message: 'Unexpected token: EOF',
                  line: 1,
                  column: 15,
                },
              ],
            }
          : { valid: true, issues: [] };
      },
    });
    renderApp('#/policies?tab=editor');
    const editor = (await screen.findByRole('textbox', {
      name: 'Policies (YAML)',
    })) as HTMLTextAreaElement;
    await screen.findByText(/Valid — 1 policy/);
    const user = userEvent.setup();
    // Break the condition: `args.amount <= 50` → `args.amount <=`.
    const position = editor.value.indexOf(' 50');
    editor.setSelectionRange(position, position + 3);
    await user.click(editor);
    editor.setSelectionRange(position, position + 3);
    await user.keyboard('{Backspace}');
    const problem = await screen.findByRole('button', { name: /Line 5, column \d+/ });
    // `      - if: ` is 12 characters, so the condition's 15th character is column 27.
    expect(problem.textContent).toBe('Line 5, column 27');
    expect(screen.getByText(/Unexpected token: EOF/)).toBeTruthy();
    expect(screen.getByText('1 problem')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Save as a new version' })).toHaveProperty(
      'disabled',
      true,
    );
    // Clicking the problem puts the cursor there.
    await user.click(problem);
    expect(document.activeElement).toBe(editor);
    const lines = editor.value.slice(0, editor.selectionStart).split('\n');
    expect(lines.length).toBe(5);
    expect((lines.at(-1)?.length ?? 0) + 1).toBe(27);
    // The checks are debounced: far fewer requests than keystrokes.
    expect(
      api.received.filter((request) => request.path.endsWith('/validate')).length,
    ).toBeLessThan(4);
  });

  it('offers the condition inputs, memory inputs included, and inserts one at the cursor', async () => {
    fakeApi({
      ...routes('admin'),
      'POST agents/:id/policies/:environment/validate': () => ({ valid: true, issues: [] }),
    });
    renderApp('#/policies?tab=editor');
    const editor = (await screen.findByRole('textbox', {
      name: 'Policies (YAML)',
    })) as HTMLTextAreaElement;
    const user = userEvent.setup();
    await user.click(screen.getByText('Condition inputs'));
    const list = screen.getByRole('list', { name: 'Condition inputs' });
    for (const input of ['session.cost_usd', 'session.tokens', 'agent.cost_usd(duration("24h"))']) {
      expect(within(list).getByText(input)).toBeTruthy();
    }
    // Put the cursor after `args.amount <= 50` and add a count rule.
    const position = editor.value.indexOf(' 50') + 3;
    editor.setSelectionRange(position, position);
    await user.click(within(list).getByText('session.calls("stripe.*", duration("24h"))'));
    expect(editor.value).toContain('args.amount <= 50session.calls("stripe.*", duration("24h"))');
  });

  it('simulates the draft over a window of the log with the flips by kind, then saves it', async () => {
    const decision = (value: string, explanation: string) => ({
      decision: value,
      reason: 'rule_matched',
      policy: 'Refunds',
      rule_index: 0,
      explanation,
    });
    const counts = {
      total: 40,
      scanned: 40,
      evaluated: 40,
      sampled: false,
      vs_current: { changed: 2, kinds: { 'allow->block': 1, 'requires_approval->block': 1 } },
      vs_logged: { changed: 1, kinds: { 'allow->block': 1 } },
    };
    const api = fakeApi({
      ...routes('admin'),
      'POST agents/:id/policies/:environment/validate': () => ({ valid: true, issues: [] }),
      'POST agents/:id/policies/:environment/simulate/history': () =>
        new Lines([
          { type: 'start', total: 40 },
          { type: 'progress', ...counts, scanned: 20, evaluated: 20 },
          {
            type: 'flip',
            action_id: 'x1',
            tool_name: 'stripe.issue_refund',
            session_id: null,
            created_at: '2026-11-24T10:00:00.000Z',
            logged: 'allow',
            current: decision('allow', 'allowed'),
            draft: decision('block', 'now blocked'),
            vs_current: 'allow->block',
            vs_logged: 'allow->block',
          },
          {
            type: 'flip',
            action_id: 'x2',
            tool_name: 'stripe.issue_refund',
            session_id: null,
            created_at: '2026-11-24T11:00:00.000Z',
            logged: 'block',
            current: decision('requires_approval', 'held'),
            draft: decision('block', 'now blocked'),
            vs_current: 'requires_approval->block',
            vs_logged: null,
          },
          { type: 'summary', ...counts, flips_listed: 2 },
        ]),
      'PUT agents/:id/policies/:environment': () => {
        throw new Reply(400, {
          error: 'The policies do not compile.',
          issues: [{ path: [0, 'rules', 0, 'then'], message: 'must be one of allow, block' }],
        });
      },
    });
    renderApp('#/policies?tab=editor');
    const editor = (await screen.findByRole('textbox', {
      name: 'Policies (YAML)',
    })) as HTMLTextAreaElement;
    const user = userEvent.setup();
    const position = editor.value.indexOf('then: allow') + 'then: '.length;
    await user.click(editor);
    editor.setSelectionRange(position, position + 'allow'.length);
    await user.keyboard('block');
    await screen.findByText(/Valid — 1 policy/);
    expect(screen.getByText('Changes against version 2')).toBeTruthy();
    await user.selectOptions(screen.getByLabelText('Replay'), 'the whole log');
    await user.type(screen.getByLabelText('Tool'), 'stripe.*');
    await user.click(screen.getByRole('button', { name: 'Simulate' }));
    await screen.findByText(
      'Replayed 40 of 40 calls: against the current policies the draft decides 2 differently, against the logged decisions 1.',
    );
    const simulated = api.received.find((request) => request.path.endsWith('/simulate/history'));
    expect(simulated?.body).toMatchObject({ since: 'all', tool: 'stripe.*' });
    const byKind = screen.getByRole('table', { name: 'Against the current policies by kind' });
    expect(within(byKind).getByRole('rowheader', { name: 'held → block' })).toBeTruthy();
    const table = screen.getByRole('table', { name: 'Simulated decisions' });
    expect(within(table).getAllByRole('row')).toHaveLength(3);
    await user.selectOptions(screen.getByLabelText('Kind'), 'allow → block');
    expect(within(table).getAllByRole('row')).toHaveLength(2);
    await user.selectOptions(screen.getByLabelText('Compare with'), 'the logged decisions');
    expect(within(table).getAllByRole('row')).toHaveLength(2);
    await user.type(screen.getByLabelText(/What changed and why/), 'Block refunds');
    await user.click(screen.getByRole('button', { name: 'Save as a new version' }));
    await screen.findByText('The policies do not compile.');
    const put = api.received.find((request) => request.method === 'PUT');
    expect(put?.body).toMatchObject({
      message: 'Block refunds',
      policies: [{ rules: [{ then: 'block' }] }],
    });
    expect(screen.getByRole('button', { name: /Line 6, column 15/ })).toBeTruthy();
  });
});
