import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, test } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { confirmLink, linkOf, type Mail, startSmtp } from './smtp-support';
import { secretsKey, until } from './test-support';

const chromiumPath = '/usr/bin/chromium';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}, 60_000);

async function emailSetup(): Promise<{ t: AdminTestServer; mails: Mail[] }> {
  const { port, mails, close } = await startSmtp();
  cleanups.push(close);
  const t = await startAdminTestServer({ channels: { secretsKey, pollIntervalMs: 25 } });
  cleanups.push(() => t.close());
  const created = await t.admin('POST', '/api/v1/channels', {
    body: {
      name: 'mail',
      kind: 'email',
      config: { host: '127.0.0.1', port, user: 'arden', from: 'arden@example.com' },
      secrets: { password: 'smtp-password-1' },
    },
  });
  expect(created.status).toBe(201);
  expect(created.text).not.toContain('smtp-password-1');
  await t.server.policies.saveSet(t.agent.id, 'live', [
    {
      name: 'Refunds',
      tool: 'payments.refund',
      action: 'requires_approval',
      notify: ['email:approver@example.com', 'email:viewer@example.com'],
    } as never,
  ]);
  return { t, mails };
}

describe('email channel', { timeout: 120_000 }, () => {
  test('a link opens a confirmation page in the browser; approving there decides, once', async () => {
    expect(
      existsSync(chromiumPath),
      `Chromium is needed at ${chromiumPath}: bash scripts/ensure-chromium.sh`,
    ).toBe(true);
    const { t, mails } = await emailSetup();
    const held = await t.request('POST', '/policy/check', {
      body: { tool_name: 'payments.refund', kwargs: { amount: 75 } },
    });
    const actionId = held.json.action_id as string;
    await until(() => mails.length === 2);
    const mail = mails.find((m) => m.to.includes('approver@example.com')) as Mail;
    expect(mail).toMatchObject({ from: 'arden@example.com', user: 'arden' });
    expect(mail.raw).toContain('Approval needed: payments.refund');
    const link = linkOf(mail);

    // A bare GET (a mail scanner) decides nothing.
    expect((await fetch(link)).status).toBe(200);
    expect((await t.server.store.actions.get(actionId))?.status).toBe('pending');

    const profile = await mkdtemp(join(tmpdir(), 'arden-chromium-'));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    cleanups.push(async () => {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(link);
    await page.getByText('Approve or deny this call?').waitFor();
    expect(await page.content()).toContain('{"amount":75}');
    await page.getByLabel('Note').fill('ok from my inbox');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('heading', { name: 'Approved' }).waitFor();
    const approver = await t.server.store.users.getByEmail('approver@example.com');
    expect(await t.server.store.actions.get(actionId)).toMatchObject({
      status: 'approved',
      decidedBy: approver?.id,
      notes: 'ok from my inbox',
    });

    // Single use: the same link again says so.
    await page.goto(link);
    await page.getByText('used already').waitFor();

    // The viewer's link is theirs only, and a viewer may not decide.
    const viewerLink = linkOf(mails.find((m) => m.to.includes('viewer@example.com')) as Mail);
    const refused = await confirmLink(t.url, viewerLink, 'deny');
    expect(refused.status).toBe(403);
  });

  test('a forged link, or one whose call expired, decides nothing', async () => {
    const { t, mails } = await emailSetup();
    const held = await t.request('POST', '/policy/check', {
      body: { tool_name: 'payments.refund', kwargs: { amount: 5 } },
    });
    await until(() => mails.length === 2);
    const forged = await confirmLink(t.url, '', 'approve', 'forged-token');
    expect(forged.status).toBe(404);
    await t.server.approvals.decide(held.json.action_id, { decision: 'deny', userId: null });
    const link = linkOf(mails.find((m) => m.to.includes('approver@example.com')) as Mail);
    const late = await confirmLink(t.url, link, 'approve');
    expect(late.status).toBe(409);
    expect((await t.server.store.actions.get(held.json.action_id))?.status).toBe('denied');
  });
});
