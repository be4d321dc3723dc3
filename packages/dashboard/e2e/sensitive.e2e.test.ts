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

// Sensitive arguments (a policy's `redact`) in Debian's Chromium, against a real `arden start`:
// the action page shows them masked; an admin reveals them in place, with the agent's exact
// bytes, after a confirmation that the read is logged, and the page lists the read; a viewer
// (another browser) sees the log but no Reveal control, and the API refuses a viewer's reveal.

let server: ArdenProcess;
let admin: BrowserSession;
let viewer: BrowserSession;
let actionId = '';
const password = 'correct horse battery staple';
const cardNumber = '4242424242424242';
const secretPassword = 'hunter2-correct-horse';
// As the agent sends it: spaces, 1.0 and a 20-digit integer that a JSON.parse would round.
const kwargsJson = `{"card": {"number": "${cardNumber}", "cvc": "123"}, "password": "${secretPassword}", "order_id": 12345678901234567891, "amount": 1.0}`;

async function signIn(page: Page, email: string, to: string): Promise<void> {
  await page.goto(`${server.url}/#${to}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

function argument(page: Page, name: string) {
  return page
    .locator('dl.arguments > div')
    .filter({ has: page.locator('dt', { hasText: new RegExp(`^${name}$`) }) })
    .locator('dd');
}

beforeAll(async () => {
  assertPrerequisites();
  server = await startArden();
  const api = new AdminClient(server.url);
  await api.login(server.admin.email, server.admin.password);
  const agent = await api.ok('POST', 'agents', { name: 'payments-bot', create_keys: ['test'] });
  await api.ok('PUT', `agents/${agent.agent.id}/policies/test`, {
    policies: [
      {
        name: 'Payments',
        tool: 'pay',
        action: 'requires_approval',
        redact: ['card.number', 'password'],
      },
    ],
  });
  await api.ok('POST', 'users', { email: 'vera@example.com', role: 'viewer', password });
  const response = await fetch(`${server.url}/policy/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': agent.keys[0].key },
    body: `{"tool_name": "pay", "args": [], "kwargs": ${kwargsJson}}`,
  });
  expect(response.status).toBe(200);
  actionId = ((await response.json()) as { action_id: string }).action_id;
  admin = await openBrowser();
  viewer = await openBrowser();
});

afterAll(async () => {
  await admin?.close();
  await viewer?.close();
  await server?.stop();
});

describe('sensitive arguments in the browser', () => {
  it('an admin reveals them in place, exact, after a confirmation; the read is logged and listed; a viewer cannot', async () => {
    const page = admin.page;
    await signIn(page, server.admin.email, `/actions/${actionId}`);
    const masked = page.getByTestId('sensitive-masked');
    await masked.waitFor();
    expect(await masked.textContent()).toContain('card.number');
    expect(await argument(page, 'password').textContent()).toContain('[redacted]');
    expect(await page.content()).not.toContain(cardNumber);
    const log = page.getByRole('region', { name: 'Sensitive argument reads' });
    await log.getByText('Nobody has read them in full.').waitFor();

    await page.getByRole('button', { name: 'Reveal', exact: true }).click();
    const confirm = page.getByRole('form', { name: 'Reveal sensitive values' });
    expect(await confirm.textContent()).toContain('is logged');
    // Nothing is read before the confirmation.
    expect(await page.content()).not.toContain(cardNumber);
    await confirm.getByLabel(/Reason/).fill('chargeback 881');
    await screenshot(page, 'sensitive-confirm');
    await confirm.getByRole('button', { name: 'Reveal and log the read' }).click();

    const shown = page.getByTestId('sensitive-revealed');
    await shown.waitFor();
    expect(await shown.textContent()).toContain('logged');
    expect(await argument(page, 'password').textContent()).toBe(`"${secretPassword}"`);
    expect(await argument(page, 'card').textContent()).toContain(cardNumber);
    expect(await argument(page, 'order_id').textContent()).toBe('12345678901234567891');
    expect(await argument(page, 'amount').textContent()).toBe('1.0');
    const row = log.getByRole('row').filter({ hasText: server.admin.email });
    await row.waitFor();
    expect(await row.textContent()).toContain('chargeback 881');
    await screenshot(page, 'sensitive-revealed');

    // Hide: masked again; leaving and coming back does not show them either (never cached).
    await shown.getByRole('button', { name: 'Hide' }).click();
    await masked.waitFor();
    expect(await page.content()).not.toContain(cardNumber);
    await page.goto(`${server.url}/#/actions`);
    await page.goto(`${server.url}/#/actions/${actionId}`);
    await masked.waitFor();
    expect(await page.content()).not.toContain(cardNumber);

    // A viewer: masked, the log with the admin's read, no control; the API refuses the reveal.
    const other = viewer.page;
    await signIn(other, 'vera@example.com', `/actions/${actionId}`);
    await other.getByTestId('sensitive-masked').waitFor();
    await other
      .getByRole('region', { name: 'Sensitive argument reads' })
      .getByRole('row')
      .filter({ hasText: 'chargeback 881' })
      .waitFor();
    expect(await other.getByRole('button', { name: 'Reveal', exact: true }).count()).toBe(0);
    expect(await other.content()).not.toContain(cardNumber);
    const refused = await other.evaluate(async (id) => {
      const response = await fetch(`api/v1/actions/${id}/sensitive/reveal`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
      return { status: response.status, text: await response.text() };
    }, actionId);
    expect(refused.status).toBe(403);
    expect(refused.text).not.toContain(cardNumber);

    // Exactly one read was logged: the admin's.
    const api = new AdminClient(server.url);
    await api.login(server.admin.email, server.admin.password);
    const reads = await api.ok('GET', `actions/${actionId}/sensitive/reads`);
    expect(reads.items).toEqual([
      expect.objectContaining({ user_email: server.admin.email, reason: 'chargeback 881' }),
    ]);
  });
});
