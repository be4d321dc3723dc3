import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createArden, mcpCheckMetadata } from '@arden/core';
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

// The MCP page against a real `arden start` in Debian's Chromium: an upstream's tools, reported
// through the agent API as a gateway does (`Arden.reportMcpTools`), show with their annotations
// and the policy that governs each; trusting the upstream there changes what the next check
// reads; an MCP call shows its server in the action log; the policy editor offers the tools.

let server: ArdenProcess;
let browser: BrowserSession;
let page: Page;
let adminApi: AdminClient;
let agentId = '';
let apiKey = '';

const readFile = {
  name: 'read_file',
  description: 'Reads a file',
  annotations: { readOnlyHint: true, openWorldHint: false },
};
const deleteFile = {
  name: 'delete_file',
  description: 'Deletes a file',
  annotations: { destructiveHint: true, readOnlyHint: false },
};

beforeAll(async () => {
  assertPrerequisites();
  server = await startArden();
  browser = await openBrowser();
  page = browser.page;
  adminApi = new AdminClient(server.url);
  await adminApi.login(server.admin.email, server.admin.password);
  const created = await adminApi.ok('POST', 'agents', { name: 'files-bot', create_keys: ['test'] });
  agentId = created.agent.id;
  apiKey = created.keys[0].key;
  await adminApi.ok('PUT', `agents/${agentId}/policies/test`, {
    policies: [
      {
        name: 'Files',
        tool: 'mcp.files.*',
        rules: [{ if: 'mcp.annotations.readOnlyHint == true', then: 'allow' }],
        default: 'requires_approval',
      },
      { name: 'File deletes', tool: 'mcp.files.delete_*', action: 'block' },
    ],
    message: null,
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * A remote MCP server with two tools, `read_file` and `delete_file`, answering each POST with
 * plain JSON (as the Streamable HTTP transport lets a server do); it offers no GET stream.
 */
async function remoteMcpServer(): Promise<{ url: string; server: Server }> {
  const remote = createServer(async (request, response) => {
    if (request.method !== 'POST') {
      response.writeHead(405).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const message = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (message.id === undefined) {
      response.writeHead(202).end();
      return;
    }
    const results: Record<string, unknown> = {
      initialize: {
        protocolVersion: message.params?.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: 'remote-files', version: '1.0.0' },
      },
      'tools/list': {
        tools: [readFile, deleteFile].map((tool) => ({
          ...tool,
          inputSchema: { type: 'object', properties: { path: { type: 'string' } } },
        })),
      },
    };
    const result = results[message.method];
    const answer =
      result === undefined
        ? { jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'Method not found' } }
        : { jsonrpc: '2.0', id: message.id, result };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => remote.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(remote.address() as AddressInfo).port}/mcp`, server: remote };
}

/** The JSON-RPC messages of an answer of the gateway: plain JSON, or the data of SSE events. */
async function messagesOf(response: Response): Promise<any[]> {
  const text = await response.text();
  if ((response.headers.get('content-type') ?? '').includes('application/json')) {
    return [JSON.parse(text)];
  }
  return text
    .split('\n')
    .filter((line) => line.startsWith('data:') && line.slice(5).trim() !== '')
    .map((line) => JSON.parse(line.slice(5)));
}

/** The tool names an MCP client gets from `tools/list` at `/mcp/<name>`, in a new session. */
async function gatewayToolNames(name: string, key: string): Promise<string[]> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${key}`,
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
  };
  const endpoint = `${server.url}/mcp/${name}`;
  const post = (body: unknown) =>
    fetch(endpoint, { method: 'POST', headers, body: JSON.stringify(body) });
  const initialized = await post({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'e2e', version: '1.0.0' },
    },
  });
  expect(initialized.status).toBe(200);
  await messagesOf(initialized);
  headers['mcp-session-id'] = initialized.headers.get('mcp-session-id') as string;
  headers['mcp-protocol-version'] = '2025-06-18';
  expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
  const listed = await messagesOf(await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
  await fetch(endpoint, { method: 'DELETE', headers });
  const answer = listed.find((message) => message.id === 2);
  return answer.result.tools.map((tool: { name: string }) => tool.name);
}

describe('MCP in the browser', () => {
  it("shows a reported upstream's tools, annotations and governing policy, and trusts it", async () => {
    const arden = createArden({ apiKey, apiUrl: server.url });
    const report = await arden.reportMcpTools({
      server: 'files',
      transport: 'stdio',
      tools: [readFile, deleteFile],
    });
    expect(report.trusted).toBe(false);
    const checkRead = () =>
      arden.check(
        'mcp.files.read_file',
        { args: [], kwargs: { path: '/tmp/a' } },
        mcpCheckMetadata({
          server: 'files',
          tool: 'read_file',
          arguments: { path: '/tmp/a' },
          annotations: readFile.annotations,
        }),
      );
    // Untrusted: the read-only hint is read at its most cautious, so the call is held.
    expect((await checkRead()).decision).toBe('requires_approval');

    await page.goto(`${server.url}/#/mcp`);
    await page.getByLabel('Email').fill(server.admin.email);
    await page.getByLabel('Password').fill(server.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    const panel = page.getByRole('region', { name: 'MCP server files' });
    const tools = panel.getByRole('table', { name: 'Tools of files' });
    const readRow = tools.getByRole('row').filter({ hasText: 'mcp.files.read_file' });
    const deleteRow = tools.getByRole('row').filter({ hasText: 'mcp.files.delete_file' });
    await readRow.getByText('read-only', { exact: true }).waitFor();
    await readRow.getByText('not open world', { exact: true }).waitFor();
    await readRow.getByRole('link', { name: 'Files' }).waitFor();
    await deleteRow.getByText('destructive', { exact: true }).waitFor();
    await deleteRow.getByText('not read-only', { exact: true }).waitFor();
    await deleteRow.getByRole('link', { name: 'File deletes' }).waitFor();
    await deleteRow.getByText('always blocks: hidden from tools/list').waitFor();
    await panel.getByText(/read at their most cautious/).waitFor();
    await screenshot(page, 'mcp-untrusted');

    await panel.getByRole('button', { name: 'Trust its annotations' }).click();
    await panel.getByRole('button', { name: 'Stop trusting' }).waitFor();
    expect(await panel.getByText(/read at their most cautious/).count()).toBe(0);
    const listed = await adminApi.ok('GET', `mcp/upstreams?agent=${agentId}`);
    expect(listed.items).toEqual([
      expect.objectContaining({ name: 'files', trusted: true, trusted_by: expect.any(String) }),
    ]);
    // Trusted: the hint is read as declared, so the same call now runs.
    expect((await checkRead()).decision).toBe('allow');

    // The governing policy's link opens the policies of that agent and environment.
    await deleteRow.getByRole('link', { name: 'File deletes' }).click();
    await page.waitForURL(/#\/policies\?agent=.+&environment=test/);
    expect(decodeURIComponent(page.url())).toContain(`agent=${agentId}`);

    // The action log shows the server of the MCP calls.
    await page.goto(`${server.url}/#/actions`);
    const call = page.getByRole('link', { name: 'mcp.files.read_file' }).first();
    await call.waitFor();
    expect(await page.getByRole('row').filter({ hasText: 'MCP server files' }).count()).toBe(2);
    await call.click();
    await page.getByRole('term').filter({ hasText: 'MCP server' }).waitFor();
    await page.getByRole('link', { name: 'files', exact: true }).click();
    await panel.waitFor();

    // The policy editor offers the discovered tool names.
    await page.goto(`${server.url}/#/policies?agent=${agentId}&environment=test&tab=editor`);
    await page.getByText('Condition inputs').click();
    const offered = page.getByRole('list', { name: 'Discovered MCP tools' });
    await offered.getByRole('button', { name: 'mcp.files.delete_file' }).waitFor();
    expect(await offered.getByRole('button').allTextContents()).toEqual([
      'mcp.files.delete_file',
      'mcp.files.read_file',
    ]);
  });

  it('adds an HTTP upstream whose URL and credentials are never shown back, and removes it', async () => {
    const token = 'mcp-token-typed-once-5c1e';
    const headerValue = 'team-header-value-9d2b';
    await page.goto(`${server.url}/#/mcp`);
    await page.getByRole('button', { name: 'New HTTP upstream' }).click();
    const form = page.getByRole('form', { name: 'New HTTP upstream' });
    await form.getByLabel(/^Name/).fill('remote-files');
    // Loopback is allowed here by ARDEN_WEBHOOK_ALLOW_PRIVATE=1 (the harness sets it).
    await form.getByLabel('Upstream URL').fill('http://127.0.0.1:9/private-path-3e7a/mcp');
    await form.getByLabel(/Bearer token/).fill(token);
    await form.getByLabel(/Headers/).fill(`X-Team: ${headerValue}`);
    await form.getByRole('button', { name: 'Add upstream' }).click();
    await form.waitFor({ state: 'detached' });

    const table = page.getByRole('table', { name: 'HTTP upstreams' });
    const row = table.getByRole('row').filter({ hasText: 'remote-files' });
    await row.getByText('http://127.0.0.1:9', { exact: true }).waitFor();
    await row.getByText('/mcp/remote-files').waitFor();
    expect(await row.textContent()).toContain('X-Team');
    const content = await page.content();
    for (const secret of [token, headerValue, 'private-path-3e7a']) {
      expect(content).not.toContain(secret);
    }
    await screenshot(page, 'mcp-http-upstream');

    await row.getByRole('button', { name: 'Remove' }).click();
    await row.getByRole('button', { name: 'Remove remote-files' }).click();
    await page.getByText('No remote MCP server registered.').waitFor();
    expect((await adminApi.ok('GET', 'mcp/http-upstreams')).items).toEqual([]);
  });

  it('updates live when a gateway reports tools and an upstream is added in another session', async () => {
    await page.goto(`${server.url}/#/mcp`);
    await page.getByRole('region', { name: 'MCP server files' }).waitFor();
    await page.getByText('Live', { exact: true }).waitFor();
    // Marks this document: a reload would lose the mark.
    await page.evaluate(() => {
      (window as unknown as { liveMark: string }).liveMark = 'not reloaded';
    });

    // A gateway (another process, with the agent key) reports a new upstream's tools.
    const arden = createArden({ apiKey, apiUrl: server.url });
    await arden.reportMcpTools({
      server: 'notes',
      transport: 'stdio',
      tools: [{ name: 'list_notes', annotations: { readOnlyHint: true } }],
    });
    const notes = page.getByRole('region', { name: 'MCP server notes' });
    const notesTools = notes.getByRole('table', { name: 'Tools of notes' });
    await notesTools.getByText('mcp.notes.list_notes').waitFor();
    await notes.getByText('untrusted', { exact: true }).waitFor();

    // It reports again with another tool: the open panel shows it.
    await arden.reportMcpTools({
      server: 'notes',
      transport: 'stdio',
      tools: [
        { name: 'list_notes', annotations: { readOnlyHint: true } },
        { name: 'delete_note', annotations: { destructiveHint: true } },
      ],
    });
    await notesTools.getByText('mcp.notes.delete_note').waitFor();
    await notes.getByText(/^2 tools, reported/).waitFor();

    // Another admin session trusts it, registers an HTTP upstream, then removes it.
    const other = new AdminClient(server.url);
    await other.login(server.admin.email, server.admin.password);
    const listed = await other.ok('GET', `mcp/upstreams?agent=${agentId}`);
    const notesId = listed.items.find((item: { name: string }) => item.name === 'notes').id;
    await other.ok('PATCH', `mcp/upstreams/${notesId}`, { trusted: true });
    await notes.getByRole('button', { name: 'Stop trusting' }).waitFor();

    const secret = 'live-token-7f3a';
    await other.ok('POST', 'mcp/http-upstreams', {
      name: 'live-remote',
      url: 'http://127.0.0.1:9/live-private-path/mcp',
      bearer_token: secret,
    });
    const row = page
      .getByRole('table', { name: 'HTTP upstreams' })
      .getByRole('row')
      .filter({ hasText: 'live-remote' });
    await row.getByText('http://127.0.0.1:9', { exact: true }).waitFor();
    await screenshot(page, 'mcp-live');
    const content = await page.content();
    expect(content).not.toContain(secret);
    expect(content).not.toContain('live-private-path');
    await other.ok('DELETE', 'mcp/http-upstreams/live-remote');
    await page.getByText('No remote MCP server registered.').waitFor();

    // The policy editor offers the new tool names as they are reported (a hash change: the
    // same document).
    await page.evaluate((agent) => {
      window.location.hash = `#/policies?agent=${agent}&environment=test&tab=editor`;
    }, agentId);
    await page.getByText('Condition inputs').click();
    const offered = page.getByRole('list', { name: 'Discovered MCP tools' });
    await offered.getByRole('button', { name: 'mcp.notes.delete_note' }).waitFor();
    await arden.reportMcpTools({
      server: 'notes',
      transport: 'stdio',
      tools: [{ name: 'archive_note' }],
    });
    await offered.getByRole('button', { name: 'mcp.notes.archive_note' }).waitFor();
    expect(await offered.getByRole('button', { name: 'mcp.notes.delete_note' }).count()).toBe(0);

    // All of it without reloading the page.
    expect(await page.evaluate(() => (window as unknown as { liveMark?: string }).liveMark)).toBe(
      'not reloaded',
    );
  });
  it('lets an admin keep the always-blocked tools of an HTTP upstream in tools/list, and hide them again', async () => {
    const remote = await remoteMcpServer();
    try {
      const created = await adminApi.ok('POST', 'agents', {
        name: 'gateway-bot',
        create_keys: ['test'],
      });
      const key = created.keys[0].key;
      await adminApi.ok('PUT', `agents/${created.agent.id}/policies/test`, {
        policies: [
          { name: 'No deletes', tool: 'mcp.gw-files.delete_file', action: 'block' },
          { name: 'Reads', tool: 'mcp.gw-files.*', action: 'allow' },
        ],
        message: null,
      });
      await adminApi.ok('POST', 'mcp/http-upstreams', { name: 'gw-files', url: remote.url });
      // By default the tool a policy always blocks is hidden from the list.
      expect(await gatewayToolNames('gw-files', key)).toEqual(['read_file']);

      await page.goto(`${server.url}/#/mcp`);
      const row = page
        .getByRole('table', { name: 'HTTP upstreams' })
        .getByRole('row')
        .filter({ hasText: 'gw-files' });
      const box = row.getByRole('checkbox', {
        name: 'Show always-blocked tools of gw-files in tools/list',
      });
      await box.waitFor();
      expect(await box.isChecked()).toBe(false);
      await box.click();
      await expect.poll(() => box.isChecked()).toBe(true);
      await expect
        .poll(async () => {
          const listed = await adminApi.ok('GET', 'mcp/http-upstreams');
          return listed.items.find((item: { name: string }) => item.name === 'gw-files')
            ?.show_blocked_tools;
        })
        .toBe(true);
      // The reported upstream's tools say so too.
      await page
        .getByRole('region', { name: 'MCP server gw-files' })
        .getByText('always blocks: listed in tools/list, refused when called')
        .waitFor();
      await screenshot(page, 'mcp-show-blocked-tools');
      // A new session lists it (calling it is still refused).
      expect(await gatewayToolNames('gw-files', key)).toEqual(['read_file', 'delete_file']);

      await box.click();
      await expect.poll(() => box.isChecked()).toBe(false);
      await expect
        .poll(async () => {
          const listed = await adminApi.ok('GET', 'mcp/http-upstreams');
          return listed.items.find((item: { name: string }) => item.name === 'gw-files')
            ?.show_blocked_tools;
        })
        .toBe(false);
      expect(await gatewayToolNames('gw-files', key)).toEqual(['read_file']);

      // Another admin session changes it: this page shows it live, without a reload.
      await page.evaluate(() => {
        (window as unknown as { liveMark: string }).liveMark = 'not reloaded';
      });
      await adminApi.ok('PATCH', 'mcp/http-upstreams/gw-files', { show_blocked_tools: true });
      await expect.poll(() => box.isChecked()).toBe(true);
      expect(await page.evaluate(() => (window as unknown as { liveMark?: string }).liveMark)).toBe(
        'not reloaded',
      );
    } finally {
      await adminApi.request('DELETE', 'mcp/http-upstreams/gw-files');
      remote.server.closeAllConnections();
      await new Promise((resolve) => remote.server.close(resolve));
    }
  });
});
