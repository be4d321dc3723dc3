import { createArden, withSession } from '@arden/core';
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

// Budgets, spend and reservations on the agent and session pages, against a real `arden start`
// in Debian's Chromium: a model call reserved through @arden/core shows up, and its usage
// settling the reservation updates the page without a reload.

let server: ArdenProcess;
let browser: BrowserSession;
let page: Page;
let adminApi: AdminClient;
let agentId = '';
let apiKey = '';

beforeAll(async () => {
  assertPrerequisites();
  server = await startArden();
  browser = await openBrowser();
  page = browser.page;
  adminApi = new AdminClient(server.url);
  await adminApi.login(server.admin.email, server.admin.password);
  const created = await adminApi.ok('POST', 'agents', {
    name: 'budget-bot',
    create_keys: ['test'],
  });
  agentId = created.agent.id;
  apiKey = created.keys[0].key;
  await adminApi.ok('POST', 'budgets', {
    agent: agentId,
    environment: 'test',
    scope: 'session',
    name: 'Run cap',
    limit_usd: 0.05,
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('budgets in the browser', () => {
  it('shows spend against budget and reservations live on the agent and session pages', async () => {
    await page.goto(server.url);
    await page.getByLabel('Email').fill(server.admin.email);
    await page.getByLabel('Password').fill(server.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Nothing is waiting for approval.').waitFor();

    const arden = createArden({ apiKey, apiUrl: server.url, usageFlushIntervalMs: 20 });
    // gpt-4o, 1 000 + 1 000 tokens: $0.0125 reserved.
    const { reservationId } = await arden.checkModelCall({
      model: 'gpt-4o',
      estimatedInputTokens: 1000,
      maxOutputTokens: 1000,
      sessionId: 'run-1',
    });
    expect(reservationId).toEqual(expect.any(String));
    // Something in the session's timeline, so the session page exists.
    await withSession('run-1', () => arden.guardTool('search', async () => 'found')());

    await page.goto(`${server.url}/#/sessions/run-1`);
    const sessionBudgets = page.getByRole('table', { name: 'Budgets (test)' });
    await sessionBudgets.getByText('Run cap').waitFor();
    await sessionBudgets.getByText('$0.00 spent + $0.013 reserved of $0.050').waitFor();
    await page
      .getByRole('table', { name: 'Reservations (test)' })
      .getByRole('cell', { name: 'reserved', exact: true })
      .waitFor();

    // The usage settles the reservation: 500 + 100 tokens, $0.00225. No reload.
    arden.logTokenUsage({
      model: 'gpt-4o',
      promptTokens: 500,
      completionTokens: 100,
      sessionId: 'run-1',
      reservationId,
    });
    await arden.flush();
    await sessionBudgets
      .getByText(/^\$0\.002[23] spent \+ \$0\.00 reserved of \$0\.050$/)
      .waitFor();
    await page
      .getByRole('table', { name: 'Reservations (test)' })
      .getByRole('cell', { name: 'settled', exact: true })
      .waitFor();
    await screenshot(page, 'budgets-session');

    await page.goto(`${server.url}/#/agents/${encodeURIComponent(agentId)}`);
    await page.getByRole('heading', { name: 'budget-bot' }).waitFor();
    // The agent page has no session: a session budget shows when a session is open; the
    // reservations of the agent are listed.
    await page
      .getByRole('table', { name: 'Reservations (test)' })
      .getByRole('cell', { name: 'gpt-4o', exact: true })
      .waitFor();
    await screenshot(page, 'budgets-agent');
    await arden.shutdown();
  });
});
