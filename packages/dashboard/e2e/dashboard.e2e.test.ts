import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createArden, PolicyDeniedError, verifyWebhookSignature, withSession } from '@arden/core';
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

// The dashboard against a real `arden start` (embedded store) in Debian's Chromium: one admin
// browser, one viewer browser, and an agent made with @arden/core in this process. The steps
// share one server and run in order.

let server: ArdenProcess;
let admin: BrowserSession;
let adminApi: AdminClient;
let apiKey = '';
let agentId = '';
let page: Page;
let signingKey = '';
// The agent's webhook endpoint: every delivery received, with its event id and signature check.
const deliveries: { eventId: string; type: string; verified: Promise<boolean> }[] = [];
let receiver: Server;
let receiverUrl = '';

function agent() {
  return createArden({ apiKey, apiUrl: server.url, maxWaitMs: 60_000, usageFlushIntervalMs: 50 });
}

function refundTool(arden: ReturnType<typeof createArden>) {
  return arden.guardTool(
    'stripe.issue_refund',
    async (input: { amount: number; customer: string }) => ({ refunded: input.amount }),
  );
}

async function go(target: Page, hash: string): Promise<void> {
  await target.goto(`${server.url}/#${hash}`);
}

async function waitLive(target: Page): Promise<void> {
  await target.getByText('Live', { exact: true }).waitFor();
}

beforeAll(async () => {
  assertPrerequisites();
  server = await startArden();
  admin = await openBrowser();
  page = admin.page;
  adminApi = new AdminClient(server.url);
  await adminApi.login(server.admin.email, server.admin.password);
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      const header = (name: string) => String(request.headers[name] ?? '');
      deliveries.push({
        eventId: header('x-arden-event-id'),
        type: (JSON.parse(body) as { event_type: string }).event_type,
        verified: verifyWebhookSignature(
          body,
          header('x-arden-timestamp'),
          header('x-arden-signature'),
          signingKey,
        ).catch(() => false),
      });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/arden-webhook`;
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
  receiver?.close();
});

describe('dashboard in the browser', () => {
  it('signs in', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot(page, 'sign-in');
    await page.getByLabel('Email').fill(server.admin.email);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByLabel('Password').fill(server.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Nothing is waiting for approval.').waitFor();
    await waitLive(page);
    await screenshot(page, 'approvals-empty');
  });

  it('creates an agent whose keys are shown once', async () => {
    await go(page, '/agents');
    await page.getByLabel('Name').fill('support-bot');
    await page
      .getByLabel('Description (optional)')
      .fill('Answers customers; refunds need a human.');
    await page.getByLabel('Webhook URL (optional)').fill(receiverUrl);
    await page.getByRole('button', { name: 'Create agent' }).click();
    const secret = page.locator('.secret-value').first();
    await secret.waitFor();
    apiKey = (await secret.textContent()) ?? '';
    expect(apiKey).toMatch(/^arden_test_[0-9a-f]{32}$/);
    signingKey = (await page.locator('.secret-value').nth(1).textContent()) ?? '';
    expect(signingKey).toMatch(/^whsec_/);
    await screenshot(page, 'agents-created');
    await page.getByRole('button', { name: /I have saved them/ }).click();
    await page.getByRole('heading', { name: 'support-bot' }).waitFor();
    agentId = decodeURIComponent(new URL(page.url()).hash.replace('#/agents/', ''));
    expect(agentId).not.toBe('');
    // Never rendered again.
    expect(await page.content()).not.toContain(apiKey);
    await page.reload();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    expect(await page.content()).not.toContain(apiKey);
    expect(await page.content()).not.toContain(signingKey);

    await adminApi.ok('PUT', `agents/${agentId}/policies/test`, {
      policies: [
        {
          name: 'Refunds',
          tool: 'stripe.issue_refund',
          description: 'Small refunds run; larger ones wait for a human.',
          rules: [{ if: 'args.amount <= 50', then: 'allow' }],
          default: 'requires_approval',
          timeout: 600,
        },
        { name: 'Email', tool: 'email.*', action: 'allow' },
      ],
      message: 'First policies',
    });
  });

  it('shows a held call live; approving it lets the waiting agent finish', async () => {
    await go(page, '/approvals');
    await waitLive(page);
    const arden = agent();
    const refund = refundTool(arden);
    // Calls that run at once, for the log and the session timeline.
    await withSession('conversation-42', () => refund({ amount: 20, customer: 'cus_7' }));
    await withSession('conversation-42', () =>
      arden.guardTool(
        'email.send',
        async (input: { to: string }) => input.to,
      )({
        to: 'customer@example.com',
      }),
    );
    const started = Date.now();
    const waiting = withSession('conversation-42', () =>
      refund({ amount: 150, customer: 'cus_42' }),
    );
    const card = page.getByRole('article', { name: 'stripe.issue_refund' });
    await card.waitFor();
    const appearedAfter = Date.now() - started;
    // The check itself, the live event and the render: well under a second here.
    expect(appearedAfter).toBeLessThan(2_000);
    await expect(card.getByText('Refunds v1 (stripe.issue_refund), its default')).toBeTruthy();
    await card.getByText('conversation-42').waitFor();
    await screenshot(page, 'approvals');
    let finished = false;
    void waiting.then(() => {
      finished = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(finished).toBe(false);
    await card.getByLabel(/Note/).fill('Customer is a long-standing account.');
    await card.getByRole('button', { name: 'Approve' }).click();
    await expect(waiting).resolves.toEqual({ refunded: 150 });
    await page.getByText('Nothing is waiting for approval.').waitFor();
    await arden.shutdown();
  });

  it('denying with the keyboard raises PolicyDeniedError in the agent', async () => {
    const arden = agent();
    const waiting = withSession('conversation-42', () =>
      refundTool(arden)({ amount: 900, customer: 'cus_99' }),
    ).catch((error: unknown) => error);
    const card = page.getByRole('article', { name: 'stripe.issue_refund' });
    await card.waitFor();
    await card.getByLabel(/Note/).fill('Too large without a manager.');
    await page.keyboard.press('Escape');
    await expect(card.evaluate((element) => element === document.activeElement)).resolves.toBe(
      true,
    );
    await page.keyboard.press('d');
    const error = await waiting;
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    expect((error as PolicyDeniedError).reason).toBe('denied');
    expect((error as PolicyDeniedError).notes).toBe('Too large without a manager.');
    await page.getByText('Nothing is waiting for approval.').waitFor();
    await arden.shutdown();
  });

  it('shows the action log with filters in the URL, and an action in detail', async () => {
    await go(page, '/actions');
    const table = page.getByRole('table', { name: 'Actions' });
    await table.waitFor();
    await screenshot(page, 'actions');
    await page.getByLabel('Decision').selectOption('requires_approval');
    await page.waitForFunction(() => window.location.hash.includes('decision=requires_approval'));
    await expect.poll(() => table.getByRole('row').count()).toBe(3);
    await page.reload();
    await expect
      .poll(() => page.getByRole('table', { name: 'Actions' }).getByRole('row').count())
      .toBe(3);
    await expect(page.getByLabel('Decision').inputValue()).resolves.toBe('requires_approval');
    await page
      .getByRole('table', { name: 'Actions' })
      .getByRole('row')
      .nth(2)
      .getByRole('link')
      .first()
      .click();
    await page.getByRole('heading', { name: 'Approval' }).waitFor();
    // Who decided (the approval's own line also says "Approved by …").
    await page.locator('dd').getByText(server.admin.email, { exact: true }).waitFor();
    // The notes, in the decision and in the approval's votes.
    await page.getByText('Customer is a long-standing account.').first().waitFor();
    // The approval's webhook was delivered, signed, and is shown with its attempt.
    await page
      .locator('.delivery', { hasText: 'action_approved' })
      .getByText('delivered')
      .waitFor();
    await screenshot(page, 'action-detail');
    expect(deliveries.map((delivery) => delivery.type).sort()).toEqual([
      'action_approved',
      'action_denied',
    ]);
    expect(await Promise.all(deliveries.map((delivery) => delivery.verified))).toEqual([
      true,
      true,
    ]);

    // The agent page lists recent deliveries; one is sent again with the same event id.
    await go(page, `/agents/${encodeURIComponent(agentId)}`);
    const recent = page.getByRole('table', { name: 'Recent webhook deliveries' });
    await expect.poll(() => recent.getByRole('row').count()).toBe(3);
    await recent.getByRole('button', { name: 'Attempts' }).first().click();
    await page.getByRole('table', { name: 'Delivery attempts' }).waitFor();
    await page.getByRole('button', { name: 'Redeliver' }).click();
    await page.getByText('Queued again: it is sent within seconds.').waitFor();
    await expect.poll(() => deliveries.length, { timeout: 10_000 }).toBe(3);
    const again = deliveries[2]!;
    expect(deliveries.filter((delivery) => delivery.eventId === again.eventId)).toHaveLength(2);
    await expect
      .poll(() => page.getByRole('table', { name: 'Delivery attempts' }).getByRole('row').count())
      .toBe(3);
    await screenshot(page, 'agent-detail');
  });

  it('shows a session on a timeline with its running cost, and the usage charts', async () => {
    const arden = agent();
    await withSession('conversation-42', async () => {
      arden.logTokenUsage({ model: 'gpt-4o', promptTokens: 1200, completionTokens: 300 });
      arden.logTokenUsage({ model: 'gpt-4o-mini', promptTokens: 5000, completionTokens: 800 });
    });
    await arden.flush();
    await arden.shutdown();
    const usage = await adminApi.ok('GET', 'usage?group_by=model');
    expect(usage.totals.total_tokens).toBe(7300);

    await go(page, '/usage');
    await page.getByTestId('total-tokens').getByText('7,300').waitFor();
    const cost = await page.getByTestId('total-cost').textContent();
    expect(cost).toMatch(/^\$0\.0\d+$/);
    await page
      .getByRole('img', { name: 'Cost by model' })
      .getByText('gpt-4o-mini', { exact: true })
      .waitFor();
    await screenshot(page, 'usage');
    // The table view of a chart has the same numbers.
    await page.getByRole('button', { name: 'Show table' }).first().click();
    await page.getByRole('cell', { name: 'gpt-4o-mini' }).waitFor();

    await go(page, '/sessions');
    await page.getByRole('link', { name: 'conversation-42' }).click();
    await page.getByRole('heading', { name: 'Session conversation-42' }).waitFor();
    const timeline = page.getByRole('list', { name: 'Timeline' });
    await expect.poll(() => timeline.getByRole('listitem').count()).toBe(6);
    await timeline.getByText('gpt-4o-mini').waitFor();
    await screenshot(page, 'session');
  });

  it('edits a policy (CEL error shown), simulates it, saves it, and the next call is decided by it', async () => {
    await go(page, `/policies?agent=${encodeURIComponent(agentId)}`);
    await page.getByText('args.amount <= 50').waitFor();
    await screenshot(page, 'policies');
    await page.getByRole('tab', { name: 'Edit and simulate' }).click();
    const editor = page.getByRole('textbox', { name: 'Policies (YAML)' });
    const original = await editor.inputValue();
    expect(original).toContain('args.amount <= 50');
    await editor.fill(original.replace('args.amount <= 50', 'args.amount <= '));
    const problem = page.getByRole('button', { name: /^Line \d+, column \d+$/ });
    await problem.waitFor();
    await screenshot(page, 'policy-error');
    await problem.click();
    const caret = await editor.evaluate((element) => {
      const textarea = element as HTMLTextAreaElement;
      return textarea.value.slice(0, textarea.selectionStart);
    });
    expect(caret.endsWith('args.amount <=')).toBe(true);

    await editor.fill(original.replace('args.amount <= 50', 'args.amount <= 1000'));
    await page.getByText(/Valid — 2 policies/).waitFor();
    await page.getByRole('button', { name: 'Simulate' }).click();
    // Logged so far: refunds of 20 (allowed), 150 (approved) and 900 (denied), and one email.
    await page
      .getByText(
        'Replayed 4 of 4 calls: against the current policies the draft decides 2 differently, against the logged decisions 2.',
      )
      .waitFor();
    const byKind = page.getByRole('table', { name: 'Against the current policies by kind' });
    await byKind.getByRole('rowheader', { name: 'held → allow' }).waitFor();
    expect(await byKind.getByRole('row').count()).toBe(1);
    const simulated = page.getByRole('table', { name: 'Simulated decisions' });
    await expect.poll(() => simulated.locator('tr.row-changed').count()).toBe(2);
    await screenshot(page, 'policy-simulation');
    await page.getByLabel(/What changed and why/).fill('Refunds up to 1000 run without approval');
    await page.getByRole('button', { name: 'Save as a new version' }).click();
    await page.getByText('Saved as version 2. New calls are decided by it now.').waitFor();

    const arden = agent();
    const started = Date.now();
    await expect(refundTool(arden)({ amount: 150, customer: 'cus_3' })).resolves.toEqual({
      refunded: 150,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    await arden.shutdown();
    const log = await adminApi.ok('GET', 'actions?limit=1');
    expect(log.items[0]).toMatchObject({ tool_name: 'stripe.issue_refund', decision: 'allow' });

    await page.getByRole('tab', { name: 'History' }).click();
    await page.getByText('Refunds up to 1000 run without approval').first().waitFor();
    await page.locator('.diff-added', { hasText: 'args.amount <= 1000' }).waitFor();
    await screenshot(page, 'policy-history');
  });

  it('lets an admin create users; a viewer cannot approve (no button, and the server refuses)', async () => {
    await go(page, '/users');
    await page.getByRole('heading', { name: 'New user' }).waitFor();
    const form = page.getByRole('form', { name: 'New user' });
    await form.getByLabel('Email').fill('viewer@example.com');
    await form.getByRole('combobox').selectOption('viewer');
    await form.getByLabel(/^Password/).fill('viewer passphrase 123');
    await form.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('cell', { name: 'viewer@example.com' }).waitFor();
    await screenshot(page, 'users');

    const viewer = await openBrowser();
    try {
      await viewer.page.goto(server.url);
      await viewer.page.getByLabel('Email').fill('viewer@example.com');
      await viewer.page.getByLabel('Password').fill('viewer passphrase 123');
      await viewer.page.getByRole('button', { name: 'Sign in' }).click();
      await viewer.page.getByText(/your role is viewer/).waitFor();
      await waitLive(viewer.page);
      const arden = agent();
      const waiting = refundTool(arden)({ amount: 5000, customer: 'cus_1' }).catch(
        (error: unknown) => error,
      );
      const card = viewer.page.getByRole('article', { name: 'stripe.issue_refund' });
      await card.waitFor();
      expect(await card.getByRole('button', { name: 'Approve' }).count()).toBe(0);
      expect(await card.getByRole('button', { name: 'Deny' }).count()).toBe(0);
      expect(await viewer.page.getByRole('link', { name: 'Users' }).count()).toBe(0);
      await screenshot(viewer.page, 'approvals-viewer');
      const actionId = await card.getAttribute('data-action-id');
      // The viewer's own browser session is refused by the server too.
      const status = await viewer.page.evaluate(async (id) => {
        const response = await fetch(`api/v1/approvals/${id}/approve`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{}',
        });
        return response.status;
      }, actionId);
      expect(status).toBe(403);
      // The admin's browser shows it too, and denies it; the viewer's queue empties at once.
      await go(page, '/approvals');
      await page
        .getByRole('article', { name: 'stripe.issue_refund' })
        .getByRole('button', { name: 'Deny' })
        .click();
      await viewer.page.getByText('Nothing is waiting for approval.').waitFor();
      expect(PolicyDeniedError.isInstance(await waiting)).toBe(true);
      await arden.shutdown();
    } finally {
      await viewer.close();
    }
  });

  it('creates an admin token on the account page, shown once, that works until revoked', async () => {
    await page.getByRole('link', { name: /admin@example\.com/ }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    const form = page.getByRole('form', { name: 'New admin token' });
    await form.getByLabel('Name').fill('release pipeline');
    await form.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.locator('.secret-value').first().textContent()) ?? '';
    expect(token).toMatch(/^arden_admin_/);
    const asToken = () =>
      fetch(`${server.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await asToken()).status).toBe(200);
    await page.getByRole('button', { name: /I have saved them/ }).click();
    expect(await page.content()).not.toContain(token);
    await screenshot(page, 'account');
    await page
      .getByRole('table', { name: 'Admin tokens' })
      .getByRole('button', { name: 'Revoke' })
      .click();
    await page.getByRole('table', { name: 'Admin tokens' }).getByText('revoked').waitFor();
    expect((await asToken()).status).toBe(401);
  });

  it('shows a lost connection, reconnects by itself, and catches up', async () => {
    await go(page, '/approvals');
    await waitLive(page);
    await server.restart(1_500);
    // While the server is down (and until the browser retries), the header says so.
    await page.getByText('Connection lost — reconnecting…').waitFor();
    await screenshot(page, 'connection-lost');
    await waitLive(page);
    // Still signed in (the session is in the store), and live again.
    const arden = agent();
    const waiting = refundTool(arden)({ amount: 3000, customer: 'cus_restart' }).catch(
      (error: unknown) => error,
    );
    const card = page.getByRole('article', { name: 'stripe.issue_refund' });
    await card.waitFor();
    await card.getByRole('button', { name: 'Deny' }).click();
    expect(PolicyDeniedError.isInstance(await waiting)).toBe(true);
    await arden.shutdown();
  });

  it('is readable in a narrow window', async () => {
    const arden = agent();
    const waiting = refundTool(arden)({ amount: 2500, customer: 'cus_narrow' }).catch(
      (error: unknown) => error,
    );
    await page.setViewportSize({ width: 420, height: 860 });
    await go(page, '/approvals');
    const card = page.getByRole('article', { name: 'stripe.issue_refund' });
    await card.waitFor();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'approvals-narrow');
    await card.getByRole('button', { name: 'Deny' }).click();
    await waiting;
    await arden.shutdown();
    // Wide tables scroll inside their frame; the page itself never scrolls sideways.
    for (const hash of ['/actions', '/usage', `/policies?agent=${agentId}&tab=editor`, '/users']) {
      await go(page, hash);
      await page.locator('h1').waitFor();
      await page.waitForLoadState('networkidle').catch(() => undefined);
      const sideways = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(sideways, hash).toBeLessThanOrEqual(0);
    }
    await screenshot(page, 'users-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});
