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

// The channels page's form, against a real `arden start` in Debian's Chromium: a channel is
// created and edited there; its secrets are typed once and never shown back (neither on the
// page nor by the API), an edit that leaves a secret empty keeps it, and a generated webhook
// signing key is shown once.

let server: ArdenProcess;
let browser: BrowserSession;
let page: Page;
let adminApi: AdminClient;

beforeAll(async () => {
  assertPrerequisites();
  server = await startArden();
  browser = await openBrowser();
  page = browser.page;
  adminApi = new AdminClient(server.url);
  await adminApi.login(server.admin.email, server.admin.password);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const password = 'smtp-password-typed-once-7f3a';

async function channelNamed(name: string): Promise<any> {
  const listed = await adminApi.ok('GET', 'channels');
  return listed.items.find((channel: { name: string }) => channel.name === name);
}

describe('channels in the browser', () => {
  it('creates and edits a channel; secrets are entered once and never shown back', async () => {
    await page.goto(`${server.url}/#/channels`);
    await page.getByLabel('Email').fill(server.admin.email);
    await page.getByLabel('Password').fill(server.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('No channels yet.').waitFor();

    await page.getByRole('button', { name: 'New channel' }).click();
    const create = page.getByRole('form', { name: 'New channel' });
    await create.getByLabel('Name', { exact: true }).fill('finance-mail');
    await create.getByLabel('Kind').selectOption('email');
    await create.getByLabel('SMTP host').fill('smtp.example.com');
    await create.getByLabel('SMTP port').fill('587');
    await create.getByLabel('SMTP user').fill('arden');
    await create.getByLabel('From').fill('arden@example.com');
    await create.getByLabel('SMTP password').fill(password);
    await create.getByRole('button', { name: 'Create channel' }).click();

    const table = page.getByRole('table', { name: 'Channels' });
    const row = table.getByRole('row').filter({ hasText: 'finance-mail' });
    await row.getByRole('cell', { name: 'password', exact: true }).waitFor();
    expect(await page.content()).not.toContain(password);
    const created = await channelNamed('finance-mail');
    expect(created).toMatchObject({
      kind: 'email',
      config: { host: 'smtp.example.com', port: 587, user: 'arden', from: 'arden@example.com' },
      secrets_set: ['password'],
    });
    expect(JSON.stringify(await adminApi.ok('GET', `channels/${created.id}`))).not.toContain(
      password,
    );

    // Edit: the settings are filled in, the secret is not; left empty, it is kept.
    await row.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('form', { name: 'Edit channel finance-mail' });
    expect(await edit.getByLabel('SMTP host').inputValue()).toBe('smtp.example.com');
    const secretInput = edit.getByLabel('SMTP password');
    expect(await secretInput.inputValue()).toBe('');
    expect(await secretInput.getAttribute('placeholder')).toBe('set — leave empty to keep it');
    await edit.getByLabel('Digest every N minutes').fill('30');
    await screenshot(page, 'channels-edit');
    await edit.getByRole('button', { name: 'Save channel' }).click();
    await edit.waitFor({ state: 'detached' });
    const edited = await channelNamed('finance-mail');
    expect(edited.config).toMatchObject({ host: 'smtp.example.com', digest_minutes: 30 });
    expect(edited.secrets_set).toEqual(['password']);
    expect(await page.content()).not.toContain(password);

    // A server-side refusal is shown in the form, saying what is wrong.
    await page.getByRole('button', { name: 'New channel' }).click();
    const bad = page.getByRole('form', { name: 'New channel' });
    await bad.getByLabel('Name', { exact: true }).fill('slack-team');
    await bad.getByLabel('Bot token').fill('not-a-slack-token');
    await bad.getByLabel('Signing secret').fill('signing-secret-1234');
    await bad.getByRole('button', { name: 'Create channel' }).click();
    await bad.getByRole('alert').getByText('xoxb-').waitFor();
    await bad.getByRole('button', { name: 'Cancel' }).click();

    // An approver webhook without a key: the generated one is shown once.
    await page.getByRole('button', { name: 'New channel' }).click();
    const hook = page.getByRole('form', { name: 'New channel' });
    await hook.getByLabel('Name', { exact: true }).fill('pager');
    await hook.getByLabel('Kind').selectOption('webhook');
    await hook.getByLabel('URL').fill('https://pager.example.com/arden');
    await hook.getByRole('button', { name: 'Create channel' }).click();
    const panel = page.getByRole('region', { name: 'Channel secret' });
    const key = (await panel.locator('code').first().textContent()) ?? '';
    expect(key).toMatch(/^whsec_[0-9a-f]{64}$/);
    await panel.getByRole('button', { name: /dismiss|done|close|saved/i }).click();
    await panel.waitFor({ state: 'detached' });
    await table.getByRole('row').filter({ hasText: 'pager' }).waitFor();
    expect(await page.content()).not.toContain(key);
    expect((await channelNamed('pager')).secrets_set).toEqual(['signing_key']);
  });
});
