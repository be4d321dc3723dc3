import { act, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decisionLabel } from '../components/states';
import { action, fakeApi, me, renderApp, supportAgent, twoPersonState } from '../test-helpers';
import { RulesView } from './policies';

afterEach(() => vi.unstubAllGlobals());

const conditionError = action({
  id: 'a1',
  decision: 'block',
  reason: 'condition_error',
  status: 'completed',
  kwargs: { amount: '1000' },
  explanation:
    'Policy "Refunds" v3 (tool stripe.issue_refund): rule 1\'s condition could not be evaluated.',
  evaluation_errors: [
    { rule_index: 0, message: 'no such overload: dyn<string> > int', shape: '{amount: string[4]}' },
  ],
});

describe('a call decided by an evaluation error', () => {
  it('reads "blocked: condition error", or "held: condition error" under on_error: requires_approval', () => {
    expect(decisionLabel('block', 'condition_error')).toBe('blocked: condition error');
    expect(decisionLabel('requires_approval', 'condition_error')).toBe('held: condition error');
    expect(decisionLabel('block', 'invalid_arguments')).toBe('blocked: invalid arguments');
    expect(decisionLabel('block', 'rule_matched')).toBe('block');
    expect(decisionLabel('requires_approval', null)).toBe('requires approval');
  });

  it("shows the label in the list and the error with the arguments' shape on the action page", async () => {
    fakeApi({
      'GET me': () => me('viewer'),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET actions': () => ({ items: [conditionError], next_cursor: null }),
      'GET actions/:id': () => ({
        ...conditionError,
        agent_name: 'support-bot',
        decided_by_email: null,
        deliveries: [],
      }),
    });
    const { unmount } = renderApp('#/actions');
    const table = await screen.findByRole('table', { name: 'Actions' });
    expect(within(table).getByText('blocked: condition error')).toBeTruthy();
    unmount();

    renderApp('#/actions/a1');
    const errors = await screen.findByText(/Evaluation error/);
    const list = errors.nextElementSibling as HTMLElement;
    expect(list.textContent).toContain('Rule 1: no such overload: dyn<string> > int');
    expect(list.textContent).toContain('{amount: string[4]}');
  });
});

describe('a refused repeat', () => {
  it('links to the refusal it repeats; other actions show no such link', async () => {
    const original = action({ id: 'a-first', decision: 'block', status: 'completed' });
    const repeat = action({
      id: 'a-repeat',
      decision: 'block',
      reason: 'repeat_refused',
      status: 'completed',
      repeat_of: 'a-first',
    });
    const detail = (base: typeof original) => ({
      ...base,
      agent_name: 'support-bot',
      decided_by_email: null,
      deliveries: [],
    });
    fakeApi({
      'GET me': () => me('viewer'),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET actions/:id': (request) =>
        detail(request.path === 'actions/a-first' ? original : repeat),
    });
    const { unmount } = renderApp('#/actions/a-repeat');
    const label = await screen.findByText('Repeat of');
    const link = within(label.parentElement as HTMLElement).getByRole('link');
    expect(link.getAttribute('href')).toBe('#/actions/a-first');
    expect(link.textContent).toBe('a-first');
    expect(screen.getByText('repeat refused')).toBeTruthy();
    unmount();

    renderApp('#/actions/a-first');
    await screen.findByText('Reason');
    expect(screen.queryByText('Repeat of')).toBeNull();
  });
});

describe('the rules view', () => {
  it("shows a policy's declared argument types and its on_error", () => {
    render(
      <RulesView
        defaultAction="allow"
        policies={[
          {
            name: 'Refunds',
            tool: 'stripe.issue_refund',
            args: { amount: 'number', to: 'list<string>' },
            on_error: 'requires_approval',
            rules: [
              { if: 'args.amount > 100', then: 'block', on_error: 'block' },
              { if: 'args.amount > 10', then: 'requires_approval' },
            ],
            default: 'allow',
          },
        ]}
      />,
    );
    const policy = screen.getByRole('region', { name: 'Policy Refunds' });
    expect(policy.textContent).toContain('Arguments: amount: number, to: list<string>');
    expect(policy.textContent).toContain('(on error: block)');
    expect(policy.textContent).toContain('When a condition cannot be evaluated: requires approval');
  });
});

describe('a call two people must approve', () => {
  it('shows "1 of 2" and who approved, and updates live when another approver votes', async () => {
    let approvers: string[] = [];
    const held = () => ({
      ...action({ id: 'a2', approval: twoPersonState(approvers) }),
      agent_name: 'support-bot',
      decided_by_email: null,
      deliveries: [],
    });
    fakeApi({
      'GET me': () => me('viewer'),
      'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
      'GET approvals': () => ({ items: [], next_cursor: null }),
      'GET actions/:id': held,
    });
    const { live } = renderApp('#/actions/a2');
    const progress = await screen.findByTestId('approval-progress');
    expect(progress.textContent).toBe("0 of 2 approvals (the agent's owner may not decide)");
    act(() => live.current.open());
    // Another approver votes (on this replica or another): the server counts it and says so.
    approvers = ['ann@example.com'];
    act(() =>
      live.current.send({
        type: 'action.voted',
        at: new Date().toISOString(),
        action: action({ id: 'a2', approval: twoPersonState(approvers) }),
        action_id: 'a2',
      }),
    );
    await waitFor(() =>
      expect(screen.getByTestId('approval-progress').textContent).toBe(
        "1 of 2 approvals (the agent's owner may not decide)",
      ),
    );
    expect(screen.getByText(/Approved by ann@example\.com/)).toBeTruthy();
  });
});
