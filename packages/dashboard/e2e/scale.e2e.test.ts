import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdminClient,
  type ArdenProcess,
  assertPrerequisites,
  type BrowserSession,
  openBrowser,
  startArden,
} from './harness';

// The Actions page at scale, in Debian's Chromium against a real `arden start`: "Load more" up to
// 2 000 rows and a live burst of 200 checks a second, timed in the page (performance.now and the
// Long Tasks API). The time bounds are generous: the shared 2-core machine ran these at a load
// average of 40 (docs/performance.md), so they only catch a page that grinds. What catches a
// regression to drawing every row is structural: the table must hold every row and render only
// those near the viewport, after the clicks and after the burst.
const loadMoreBoundMs = 400;
const longTaskBoundMs = 1_500;

let server: ArdenProcess;
let browser: BrowserSession;
let apiKey = '';

async function checks(count: number, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const response = await fetch(`${server.url}/policy/check`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify({
          tool_name: `crm.lookup_${index % 7}`,
          args: [],
          kwargs: { id: index },
          metadata: { session_id: `s-${index % 40}` },
        }),
      });
      if (response.status !== 200) throw new Error(`check answered ${response.status}`);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

beforeAll(async () => {
  assertPrerequisites();
  server = await startArden();
  const adminApi = new AdminClient(server.url);
  await adminApi.login(server.admin.email, server.admin.password);
  const created = await adminApi.ok('POST', 'agents', {
    name: 'busy-bot',
    default_action: 'allow',
    create_keys: ['test'],
  });
  apiKey = created.keys[0].key;
  await checks(2_050, 16);
  browser = await openBrowser();
  const page = browser.page;
  await page.goto(server.url);
  await page.getByLabel('Email').fill(server.admin.email);
  await page.getByLabel('Password').fill(server.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Live', { exact: true }).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the Actions page at scale', () => {
  it('"Load more" stays quick at 2 000 rows', async () => {
    const page = browser.page;
    await page.goto(`${server.url}/#/actions`);
    await page.getByRole('table', { name: 'Actions' }).waitFor();
    const timings: { rows: number; ms: number }[] = [];
    for (;;) {
      const shown = Number(
        (await page.locator('.pager .muted').first().textContent())?.replace(/\D/g, ''),
      );
      if (shown >= 2_000) break;
      // Click to the next painted frame that shows the new count, timed in the page.
      const ms = await page.evaluate(async () => {
        const label = document.querySelector('.pager .muted');
        const button = [...document.querySelectorAll('.pager button')].find(
          (element) => element.textContent === 'Load more',
        ) as HTMLButtonElement | undefined;
        if (!label || !button) throw new Error('no Load more button');
        const before = label.textContent;
        const started = performance.now();
        button.click();
        await new Promise<void>((resolve) => {
          const observer = new MutationObserver(() => {
            if (document.querySelector('.pager .muted')?.textContent !== before) {
              observer.disconnect();
              resolve();
            }
          });
          observer.observe(document.body, { subtree: true, childList: true, characterData: true });
        });
        await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
        return performance.now() - started;
      });
      timings.push({ rows: shown, ms });
    }
    const atScale = timings.filter((timing) => timing.rows >= 1_500).map((timing) => timing.ms);
    console.info(
      `Load more (ms) by rows already shown: ${timings.map((timing) => `${timing.rows}:${timing.ms.toFixed(0)}`).join(' ')}`,
    );
    expect(atScale.length).toBeGreaterThanOrEqual(5);
    const sorted = [...atScale].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    expect(median).toBeLessThan(loadMoreBoundMs);
    // The table holds every row, and draws only those near the viewport.
    const table = page.getByRole('table', { name: 'Actions' });
    expect(Number(await table.getAttribute('aria-rowcount'))).toBeGreaterThanOrEqual(2_001);
    expect(await table.locator('tbody tr:not(.row-spacer)').count()).toBeLessThan(150);
  });

  it('a live burst of 200 checks a second leaves no long main-thread task', async () => {
    const page = browser.page;
    await page.evaluate(() => {
      const tasks: number[] = [];
      (window as unknown as { longTasks: number[] }).longTasks = tasks;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) tasks.push(entry.duration);
      }).observe({ type: 'longtask', buffered: false });
    });
    const rowsBefore = Number(
      await page.getByRole('table', { name: 'Actions' }).getAttribute('aria-rowcount'),
    );
    // 200 checks a second for 5 seconds: 10 every 50 ms.
    const started = Date.now();
    for (let tick = 0; tick < 100; tick++) {
      await Promise.all([
        checks(10, 10),
        new Promise((resolve) => setTimeout(resolve, started + (tick + 1) * 50 - Date.now())),
      ]);
    }
    const rate = 1_000 / ((Date.now() - started) / 1_000);
    await page.waitForFunction(
      (expected) =>
        Number(
          document.querySelector('table[aria-label="Actions"]')?.getAttribute('aria-rowcount'),
        ) >= expected,
      Math.min(5_001, rowsBefore + 1_000),
      { timeout: 20_000 },
    );
    const tasks = await page.evaluate(
      () => (window as unknown as { longTasks: number[] }).longTasks,
    );
    const longest = Math.max(0, ...tasks);
    console.info(
      `burst: ${rate.toFixed(0)} checks/s; long tasks (ms): ${tasks.map((task) => task.toFixed(0)).join(' ') || 'none'}`,
    );
    // The paced generator aims at 200/s; on a loaded machine it reaches less (47/s was seen at
    // load 30 on 2 cores), still a burst of 1 000 live rows (waited for above).
    expect(rate).toBeGreaterThan(20);
    expect(longest).toBeLessThan(longTaskBoundMs);
    const table = page.getByRole('table', { name: 'Actions' });
    expect(await table.locator('tbody tr:not(.row-spacer)').count()).toBeLessThan(150);
  });
});
