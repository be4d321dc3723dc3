import { createArden } from '@arden/core';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdminClient,
  type ArdenProcess,
  assertPrerequisites,
  type BrowserSession,
  openBrowser,
  screenshot,
  startArden,
} from './harness';

// Two-person approval and approve with edit in Debian's Chromium, against a real `arden start`:
// the approval card shows "1 of 2" and who — live, in the other approver's queue and action page
// too — a second approver (another browser) completes it,
// and the editor seeded with the call approves edited arguments that the agent's tool runs. A
// decision the app reports (its own approval UI: the AI SDK's, LangGraph's resume, Claude Code's
// ask) shows on the action's page as made in the app, by the user the app named.

let server: ArdenProcess;
let first: BrowserSession;
let second: BrowserSession;
let apiKey = '';
const password = 'correct horse battery staple';

async function signIn(page: Page, email: string): Promise<void> {
  await page.goto(`${server.url}/#/approvals`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Live', { exact: true }).waitFor();
}

beforeAll(async () => {
  assertPrerequisites();
  server = await startArden();
  const admin = new AdminClient(server.url);
  await admin.login(server.admin.email, server.admin.password);
  const agent = await admin.ok('POST', 'agents', { name: 'payments-bot', create_keys: ['test'] });
  apiKey = agent.keys[0].key;
  await admin.ok('PUT', `agents/${agent.agent.id}/policies/test`, {
    policies: [
      {
        name: 'Payouts',
        tool: 'payout',
        rules: [
          { if: 'args.amount > 1000', then: 'requires_approval', approvals: 2 },
          { if: 'args.amount > 100', then: 'requires_approval' },
        ],
        default: 'allow',
      },
      {
        name: 'Emails are approved in the app',
        tool: 'send_email',
        action: 'requires_approval',
        approve_in: ['dashboard', 'app'],
      },
    ],
  });
  for (const email of ['ann@example.com', 'bob@example.com']) {
    await admin.ok('POST', 'users', { email, role: 'approver', password });
  }
  first = await openBrowser();
  second = await openBrowser();
  await signIn(first.page, 'ann@example.com');
  await signIn(second.page, 'bob@example.com');
});

afterAll(async () => {
  await first?.close();
  await second?.close();
  await server?.stop();
});

describe('approvals in the browser: two people, approve with edit', () => {
  it('shows "1 of 2" and who approved; the second approver lets the call run', async () => {
    const arden = createArden({ apiKey, apiUrl: server.url, maxWaitMs: 60_000 });
    const payout = arden.guardTool('payout', async (input: { amount: number }) => ({
      paid: input.amount,
    }));
    const waiting = payout({ amount: 5000 });
    const card = first.page.getByRole('article', { name: 'payout' });
    await card.waitFor();
    // The second approver watches the queue and the action's page before the first votes: both
    // must change live, without a reload.
    const actionId = (await card.getAttribute('data-action-id')) as string;
    const other = second.page.getByRole('article', { name: 'payout' });
    await other.getByTestId('approval-progress').getByText('0 of 2 approvals').waitFor();
    const detail = await second.context.newPage();
    await detail.goto(`${server.url}/#/actions/${actionId}`);
    await detail.getByTestId('approval-progress').getByText('0 of 2 approvals').waitFor();
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.getByText('Your approval is counted: 1 of 2').waitFor();
    await card
      .getByTestId('approval-progress')
      .getByText('1 of 2 approvals (ann@example.com)')
      .waitFor();
    await screenshot(first.page, 'approvals-one-of-two');
    await other
      .getByTestId('approval-progress')
      .getByText('1 of 2 approvals (ann@example.com)')
      .waitFor();
    await detail.getByTestId('approval-progress').getByText('1 of 2 approvals').waitFor();
    await detail.getByText(/Approved by ann@example\.com/).waitFor();
    await detail.close();
    await other.getByRole('button', { name: 'Approve' }).click();
    await expect(waiting).resolves.toEqual({ paid: 5000 });
    await arden.shutdown();
  });

  it('edits the arguments in the editor seeded with the call; the tool runs with the edit', async () => {
    const arden = createArden({ apiKey, apiUrl: server.url, maxWaitMs: 60_000 });
    const payout = arden.guardTool('payout', async (input: { amount: number; to: string }) => ({
      paid: input.amount,
      to: input.to,
    }));
    const waiting = payout({ amount: 400, to: 'acct_1' });
    const page = first.page;
    const card = page.getByRole('article', { name: 'payout' });
    await card.waitFor();
    await card.getByRole('button', { name: 'Edit arguments' }).click();
    const editor = card.getByLabel(/Edited arguments/);
    expect(JSON.parse(await editor.inputValue())).toEqual({ amount: 400, to: 'acct_1' });
    await editor.fill('{"amount": 40, "to": "acct_1"}');
    await screenshot(page, 'approvals-edit');
    await card.getByRole('button', { name: 'Approve with edit' }).click();
    await expect(waiting).resolves.toEqual({ paid: 40, to: 'acct_1' });
    await page.getByText('Nothing is waiting for approval.').waitFor();
    await arden.shutdown();
  });
});

describe('decisions made in the app, in the browser', () => {
  it('the action page says the call was approved in app, and by whom', async () => {
    const arden = createArden({ apiKey, apiUrl: server.url });
    const held = await arden.check('send_email', { args: [], kwargs: { to: 'a@example.com' } });
    expect(held.decision).toBe('requires_approval');
    const page = first.page;
    // Held: ann sees it in her queue; the app's user approves it in the app instead.
    const card = page.getByRole('article', { name: 'send_email' });
    await card.waitFor();
    await arden.reportInAppDecision(held.actionId, {
      decision: 'approve',
      user: 'enduser@customer.example',
    });
    await page.getByText('Nothing is waiting for approval.').waitFor();
    await page.goto(`${server.url}/#/actions/${held.actionId}`);
    const approval = page.getByRole('region', { name: 'Approval' });
    await approval
      .getByText('approved in app by enduser@customer.example', { exact: true })
      .waitFor();
    await approval.getByText(/^Approved in app by enduser@customer\.example at /).waitFor();
    await screenshot(page, 'approvals-in-app');
    expect(await approval.textContent()).not.toContain('ann@example.com');
    await arden.shutdown();
  });

  it('a denial in the app says so, with the app user', async () => {
    const arden = createArden({ apiKey, apiUrl: server.url });
    const held = await arden.check('send_email', { args: [], kwargs: { to: 'b@example.com' } });
    await arden.reportInAppDecision(held.actionId, {
      decision: 'deny',
      user: 'other@customer.example',
    });
    const page = first.page;
    await page.goto(`${server.url}/#/actions/${held.actionId}`);
    const approval = page.getByRole('region', { name: 'Approval' });
    await approval.getByText('denied in app by other@customer.example', { exact: true }).waitFor();
    await arden.shutdown();
  });
});
