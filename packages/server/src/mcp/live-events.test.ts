// The MCP page's live events (issue #15): a gateway's tool report, a trust change, a forgotten
// upstream, an HTTP upstream added or removed reach the dashboards' event stream after the write
// — and only then, and never with an HTTP upstream's URL path, header values or token.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import type { LiveEvent } from '../events/service';
import { type EventCollector, openEvents } from '../test-fixtures/sse';

let t: AdminTestServer;
let dashboard: EventCollector;
let raw = '';
let stopRaw: () => void;
const emitted: LiveEvent[] = [];
let stopEmitted: () => void;

const token = 'tok-SECRET-0b1c2d';
const headerValue = 'team-SECRET-9f8e';
const urlPath = '/private-SECRET-path/mcp';

beforeAll(async () => {
  t = await startAdminTestServer({ workers: false });
  // What the stream writes (its text, as a viewer would receive it) and every event emitted.
  dashboard = await openEvents(t.url, t.tokens.viewer);
  const response = await fetch(`${t.url}/api/v1/events`, {
    headers: { authorization: `Bearer ${t.tokens.viewer}` },
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let open = true;
  void (async () => {
    while (open) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      raw += decoder.decode(value, { stream: true });
    }
  })();
  stopRaw = () => {
    open = false;
    void reader.cancel().catch(() => undefined);
  };
  stopEmitted = t.server.events.subscribe((event) => {
    if (event.type.startsWith('mcp.')) emitted.push(event);
  });
});

afterAll(async () => {
  stopEmitted();
  stopRaw();
  await dashboard.close();
  await t.close();
});

const report = (server: string, tools: { name: string; annotations?: object }[]) =>
  t.request('POST', '/v1/mcp/tools', { body: { server, transport: 'stdio', tools } });

describe('MCP live events', () => {
  it('a tool report, a trust change and a forgotten upstream reach the stream, viewer-safe', async () => {
    const reported = await report('files', [
      { name: 'read_file', annotations: { readOnlyHint: true } },
      { name: 'write_file' },
    ]);
    expect(reported.status).toBe(200);
    const event = await dashboard.waitFor(
      (e) => e.event === 'mcp.tools_reported' && e.data.mcp_upstream?.name === 'files',
    );
    expect(event.data).toMatchObject({
      type: 'mcp.tools_reported',
      agent_id: t.agent.id,
      mcp_upstream: {
        agent_id: t.agent.id,
        environment: 'live',
        name: 'files',
        transport: 'stdio',
        trusted: false,
        tool_count: 2,
      },
    });
    // The upstream as the list shows it (its tools are read from the detail).
    const list = await t.admin('GET', '/api/v1/mcp/upstreams', { as: 'viewer' });
    expect(event.data.mcp_upstream).toEqual(
      list.json.items.find((item: { name: string }) => item.name === 'files'),
    );
    const id = event.data.mcp_upstream.id as string;

    // A second report of the same upstream: a new event with the new count.
    await report('files', [{ name: 'read_file' }]);
    await dashboard.waitFor(
      (e) => e.event === 'mcp.tools_reported' && e.data.mcp_upstream?.tool_count === 1,
    );

    const patched = await t.admin('PATCH', `/api/v1/mcp/upstreams/${id}`, {
      body: { trusted: true },
    });
    expect(patched.status).toBe(200);
    const trusted = await dashboard.waitFor((e) => e.event === 'mcp.trust_changed');
    expect(trusted.data.mcp_upstream).toMatchObject({
      id,
      trusted: true,
      trusted_by: expect.any(String),
    });

    // Named by an admin before any gateway reported it: a trust change too.
    const named = await t.admin('POST', '/api/v1/mcp/upstreams', {
      body: { agent: t.agent.name, environment: 'test', name: 'later', trusted: true },
    });
    expect(named.status).toBe(200);
    await dashboard.waitFor(
      (e) => e.event === 'mcp.trust_changed' && e.data.mcp_upstream?.name === 'later',
    );

    expect((await t.admin('DELETE', `/api/v1/mcp/upstreams/${id}`)).status).toBe(200);
    const deleted = await dashboard.waitFor((e) => e.event === 'mcp.upstream_deleted');
    expect(deleted.data).toMatchObject({
      agent_id: t.agent.id,
      mcp_upstream: { id, name: 'files' },
    });
  });

  it('an HTTP upstream added, changed and removed: origin and header names only, no URL path or secret', async () => {
    const added = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: {
        name: 'remote',
        url: `http://127.0.0.1:9${urlPath}?key=${token}`,
        bearer_token: token,
        headers: { 'X-Team': headerValue },
      },
    });
    expect(added.status, added.text).toBe(201);
    const event = await dashboard.waitFor((e) => e.event === 'mcp.http_upstream_added');
    expect(event.data).toEqual({
      type: 'mcp.http_upstream_added',
      at: expect.any(String),
      mcp_http_upstream: added.json,
    });
    expect(event.data.mcp_http_upstream).toMatchObject({
      name: 'remote',
      origin: 'http://127.0.0.1:9',
      header_names: ['X-Team', 'Authorization'],
    });

    // Its show_blocked_tools setting changed: the upstream after the change.
    const changed = await t.admin('PATCH', '/api/v1/mcp/http-upstreams/remote', {
      body: { show_blocked_tools: true },
    });
    expect(changed.status, changed.text).toBe(200);
    const changedEvent = await dashboard.waitFor((e) => e.event === 'mcp.http_upstream_changed');
    expect(changedEvent.data).toEqual({
      type: 'mcp.http_upstream_changed',
      at: expect.any(String),
      mcp_http_upstream: changed.json,
    });
    expect(changedEvent.data.mcp_http_upstream.show_blocked_tools).toBe(true);

    expect((await t.admin('DELETE', '/api/v1/mcp/http-upstreams/remote')).status).toBe(200);
    const removed = await dashboard.waitFor((e) => e.event === 'mcp.http_upstream_removed');
    expect(removed.data.mcp_http_upstream).toEqual(changed.json);

    // What the stream wrote to a viewer: the events, and none of the secrets.
    await vi.waitFor(() => expect(raw).toContain('event: mcp.http_upstream_removed'));
    expect(raw).toContain('event: mcp.http_upstream_added');
    for (const secret of [token, headerValue, 'private-SECRET-path', 'SECRET']) {
      expect(raw).not.toContain(secret);
    }
  });

  it('emits nothing when the write fails or is refused', async () => {
    const before = emitted.length;
    // A report the store fails to write.
    const recordTools = vi
      .spyOn(t.server.store.mcpUpstreams, 'recordTools')
      .mockRejectedValueOnce(new Error('disk full'));
    const failed = await report('broken', [{ name: 'x' }]);
    expect(failed.status).toBe(500);
    expect(recordTools).toHaveBeenCalledTimes(1);
    recordTools.mockRestore();
    // A trust change the store fails to write.
    const setTrusted = vi
      .spyOn(t.server.store.mcpUpstreams, 'setTrusted')
      .mockRejectedValueOnce(new Error('disk full'));
    const named = await t.admin('POST', '/api/v1/mcp/upstreams', {
      body: { agent: t.agent.name, environment: 'live', name: 'nope', trusted: true },
    });
    expect(named.status).toBe(500);
    setTrusted.mockRestore();
    // Unknown upstreams, a viewer's attempt, a duplicate and an invalid HTTP upstream.
    expect(
      (await t.admin('PATCH', '/api/v1/mcp/upstreams/unknown', { body: { trusted: true } })).status,
    ).toBe(404);
    expect((await t.admin('DELETE', '/api/v1/mcp/upstreams/unknown')).status).toBe(404);
    expect(
      (
        await t.admin('POST', '/api/v1/mcp/http-upstreams', {
          as: 'viewer',
          body: { name: 'viewer', url: 'http://127.0.0.1:9/mcp' },
        })
      ).status,
    ).toBe(403);
    const first = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: { name: 'twice', url: 'http://127.0.0.1:9/mcp' },
    });
    expect(first.status).toBe(201);
    const afterFirst = emitted.length;
    const again = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: { name: 'twice', url: 'http://127.0.0.1:9/other' },
    });
    expect(again.status).toBe(409);
    const reserved = await t.admin('POST', '/api/v1/mcp/http-upstreams', {
      body: { name: 'reserved', url: 'http://127.0.0.1:9/mcp', headers: { Host: 'x' } },
    });
    expect(reserved.status).toBe(400);
    expect((await t.admin('DELETE', '/api/v1/mcp/http-upstreams/unknown')).status).toBe(404);
    const unknownChange = await t.admin('PATCH', '/api/v1/mcp/http-upstreams/unknown', {
      body: { show_blocked_tools: true },
    });
    expect(unknownChange.status).toBe(404);
    // Only the one successful write was told.
    expect(emitted.slice(before).map((event) => event.type)).toEqual(['mcp.http_upstream_added']);
    expect(emitted.length).toBe(afterFirst);
  });

  // On SQLite only: on PostgreSQL every server on the database is a replica, and a dashboard that
  // watches another one (a test file running beside this one) rightly makes this server read
  // its events back to relay them (replicas.ts), so "nobody watches" cannot be arranged there.
  it.skipIf(Boolean(process.env.ARDEN_TEST_DATABASE_URL))(
    'reads nothing back for an event when no dashboard watches',
    async () => {
      const quiet = await startAdminTestServer({ workers: false }, { listen: false });
      try {
        const summary = vi.spyOn(quiet.server.store.mcpUpstreams, 'summary');
        const reportFiles = () =>
          quiet.request('POST', '/v1/mcp/tools', {
            body: { server: 'files', transport: 'stdio', tools: [{ name: 'read_file' }] },
          });
        // The dashboards' stream, with no client, stops listening at the first event.
        expect((await reportFiles()).status).toBe(200);
        expect(quiet.server.events.wants('mcp.tools_reported')).toBe(false);
        summary.mockClear();
        expect((await reportFiles()).status).toBe(200);
        expect(summary).not.toHaveBeenCalled();
        // Someone subscribes: the next report is read back and emitted.
        const seen: LiveEvent[] = [];
        const stop = quiet.server.events.subscribe((event) => seen.push(event));
        await quiet.request('POST', '/v1/mcp/tools', {
          body: { server: 'files', transport: 'stdio', tools: [] },
        });
        stop();
        expect(summary).toHaveBeenCalledTimes(1);
        expect(seen.map((event) => event.type)).toEqual(['mcp.tools_reported']);
      } finally {
        await quiet.close();
      }
    },
  );
});
