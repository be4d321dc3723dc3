import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { McpHttpUpstream, McpUpstream, McpUpstreamDetail, Role } from '../api/types';
import { action, fakeApi, me, renderApp, supportAgent } from '../test-helpers';

afterEach(() => vi.unstubAllGlobals());

const files: McpUpstream = {
  id: 'u1',
  agent_id: 'agent-1',
  environment: 'test',
  name: 'files',
  trusted: false,
  trusted_by: null,
  transport: 'stdio',
  tool_count: 2,
  tools_reported_at: '2026-12-06T07:00:00.000Z',
  created_at: '2026-12-06T06:00:00.000Z',
  updated_at: '2026-12-06T07:00:00.000Z',
};

const filesDetail: McpUpstreamDetail = {
  ...files,
  tools: [
    {
      name: 'delete_file',
      arden_tool: 'mcp.files.delete_file',
      title: null,
      description: 'Deletes a file',
      input_schema: null,
      annotations: { destructiveHint: true, readOnlyHint: false },
      policy: { name: 'File deletes', tool: 'mcp.files.delete_*', always_blocks: false },
    },
    {
      name: 'read_file',
      arden_tool: 'mcp.files.read_file',
      title: null,
      description: null,
      input_schema: null,
      annotations: { readOnlyHint: true, openWorldHint: false },
      policy: null,
    },
  ],
};

const remote: McpHttpUpstream = {
  id: 'h1',
  name: 'github',
  endpoint: '/mcp/github',
  origin: 'https://api.githubcopilot.com',
  header_names: ['Authorization', 'X-Team'],
  show_blocked_tools: false,
  created_by: 'user-admin',
  created_at: '2026-12-06T06:00:00.000Z',
  updated_at: '2026-12-06T06:00:00.000Z',
};

function routes(role: Role, trusted = { value: false }) {
  return {
    'GET me': () => me(role),
    'GET agents': () => ({ items: [supportAgent], next_cursor: null }),
    'GET approvals': () => ({ items: [], next_cursor: null }),
    'GET mcp/upstreams': () => ({ items: [{ ...files, trusted: trusted.value }] }),
    'GET mcp/upstreams/:id': () => ({ ...filesDetail, trusted: trusted.value }),
    'GET mcp/http-upstreams': () => ({ items: [remote] }),
  };
}

describe('MCP page', () => {
  it('shows an upstream’s tools with their annotations and governing policy, and lets an admin trust it', async () => {
    const trusted = { value: false };
    const api = fakeApi({
      ...routes('admin', trusted),
      'PATCH mcp/upstreams/:id': ({ body }) => {
        trusted.value = (body as { trusted: boolean }).trusted;
        return { ...files, trusted: trusted.value };
      },
    });
    renderApp('#/mcp');
    const table = await screen.findByRole('table', { name: 'Tools of files' });
    const rows = within(table).getAllByRole('row');
    const deleteRow = rows.find((row) => row.textContent?.includes('mcp.files.delete_file'))!;
    expect(within(deleteRow).getByText('destructive')).toBeTruthy();
    expect(within(deleteRow).getByText('not read-only')).toBeTruthy();
    const policy = within(deleteRow).getByRole('link', { name: 'File deletes' });
    expect(policy.getAttribute('href')).toBe('#/policies?agent=agent-1&environment=test');
    const readRow = rows.find((row) => row.textContent?.includes('mcp.files.read_file'))!;
    expect(within(readRow).getByText('read-only')).toBeTruthy();
    expect(within(readRow).getByText('not open world')).toBeTruthy();
    expect(within(readRow).getByRole('link', { name: 'agent default' })).toBeTruthy();

    const panel = screen.getByRole('region', { name: 'MCP server files' });
    expect(within(panel).getByText('untrusted')).toBeTruthy();
    expect(within(panel).getByText(/read at their most cautious/)).toBeTruthy();
    fireEvent.click(within(panel).getByRole('button', { name: 'Trust its annotations' }));
    await within(panel).findByRole('button', { name: 'Stop trusting' });
    expect(api.received.find((r) => r.method === 'PATCH')).toMatchObject({
      path: 'mcp/upstreams/u1',
      body: { trusted: true },
    });
    expect(within(panel).queryByText(/read at their most cautious/)).toBeNull();

    // HTTP upstreams: the origin and header names, no secret.
    const http = screen.getByRole('table', { name: 'HTTP upstreams' });
    expect(within(http).getByText('https://api.githubcopilot.com')).toBeTruthy();
    expect(within(http).getByText('Authorization, X-Team')).toBeTruthy();
  });

  it('updates live: a gateway reports tools, trust changes, HTTP upstreams come and go', async () => {
    // What the server holds; the live events say it changed (sent by another session).
    const state = {
      upstreams: [] as McpUpstream[],
      tools: filesDetail.tools.slice(0, 1),
      http: [] as McpHttpUpstream[],
    };
    const api = fakeApi({
      ...routes('viewer'),
      'GET mcp/upstreams': () => ({ items: state.upstreams }),
      'GET mcp/upstreams/:id': () => ({ ...state.upstreams[0], tools: state.tools }),
      'GET mcp/http-upstreams': () => ({ items: state.http }),
    });
    const { live } = renderApp('#/mcp');
    await screen.findByText(/No MCP server reported yet/);
    await screen.findByText(/No remote MCP server registered/);
    act(() => live.current.open());
    const loads = (path: string) =>
      api.received.filter((r) => r.method === 'GET' && r.path === path).length;

    // A gateway reports its first tool list.
    state.upstreams = [{ ...files, tool_count: 1 }];
    act(() =>
      live.current.send({
        type: 'mcp.tools_reported',
        at: files.updated_at,
        agent_id: 'agent-1',
        mcp_upstream: state.upstreams[0],
      }),
    );
    const table = await screen.findByRole('table', { name: 'Tools of files' });
    expect(within(table).getByText('mcp.files.delete_file')).toBeTruthy();
    expect(within(table).queryByText('mcp.files.read_file')).toBeNull();

    // It reports again with one more tool: the open panel loads its tools again.
    const detailLoads = loads('mcp/upstreams/u1');
    state.tools = filesDetail.tools;
    state.upstreams = [{ ...files }];
    act(() =>
      live.current.send({
        type: 'mcp.tools_reported',
        at: files.updated_at,
        agent_id: 'agent-1',
        mcp_upstream: state.upstreams[0],
      }),
    );
    await within(table).findByText('mcp.files.read_file');
    expect(loads('mcp/upstreams/u1')).toBe(detailLoads + 1);

    // An admin elsewhere trusts it.
    const panel = screen.getByRole('region', { name: 'MCP server files' });
    expect(within(panel).getByText('untrusted')).toBeTruthy();
    state.upstreams = [{ ...files, trusted: true, trusted_by: 'user-admin' }];
    act(() =>
      live.current.send({
        type: 'mcp.trust_changed',
        at: files.updated_at,
        agent_id: 'agent-1',
        mcp_upstream: state.upstreams[0],
      }),
    );
    await within(panel).findByText('trusted');
    expect(within(panel).queryByText(/read at their most cautious/)).toBeNull();

    // An HTTP upstream is registered, then removed.
    state.http = [remote];
    act(() =>
      live.current.send({
        type: 'mcp.http_upstream_added',
        at: remote.created_at,
        mcp_http_upstream: remote,
      }),
    );
    const http = await screen.findByRole('table', { name: 'HTTP upstreams' });
    expect(within(http).getByText('https://api.githubcopilot.com')).toBeTruthy();
    expect(within(http).getByText(/not listed yet/)).toBeTruthy();
    // An agent's client lists its tools through the HTTP gateway: its row says where they show.
    const github: McpUpstream = {
      ...files,
      id: 'u3',
      name: 'github',
      transport: 'http',
      tool_count: 4,
    };
    state.upstreams = [github, ...state.upstreams];
    act(() =>
      live.current.send({
        type: 'mcp.tools_reported',
        at: files.updated_at,
        agent_id: 'agent-1',
        mcp_upstream: github,
      }),
    );
    const where = await within(http).findByRole('link', { name: 'support-bot · test' });
    expect(where.getAttribute('href')).toBe('#/mcp?agent=agent-1&environment=test');
    expect(within(http).getByText('(4)')).toBeTruthy();
    // Another admin keeps its always-blocked tools in tools/list.
    expect(within(http).getByText('hidden from tools/list')).toBeTruthy();
    state.http = [{ ...remote, show_blocked_tools: true }];
    act(() =>
      live.current.send({
        type: 'mcp.http_upstream_changed',
        at: remote.updated_at,
        mcp_http_upstream: state.http[0],
      }),
    );
    await within(http).findByText('shown in tools/list');
    state.upstreams = state.upstreams.slice(1);
    state.http = [];
    act(() =>
      live.current.send({
        type: 'mcp.http_upstream_removed',
        at: remote.created_at,
        mcp_http_upstream: remote,
      }),
    );
    await screen.findByText(/No remote MCP server registered/);

    // The reported upstream is forgotten.
    state.upstreams = [];
    act(() =>
      live.current.send({
        type: 'mcp.upstream_deleted',
        at: files.updated_at,
        agent_id: 'agent-1',
        mcp_upstream: files,
      }),
    );
    await screen.findByText(/No MCP server reported yet/);
  });

  it('offers no trust toggle and no add/remove to a viewer', async () => {
    fakeApi(routes('viewer'));
    renderApp('#/mcp');
    await screen.findByRole('table', { name: 'Tools of files' });
    await screen.findByRole('table', { name: 'HTTP upstreams' });
    expect(screen.queryByRole('button', { name: 'Trust its annotations' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'New HTTP upstream' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Remove' })).toBeNull();
    // The show_blocked_tools setting, read-only.
    const http = screen.getByRole('table', { name: 'HTTP upstreams' });
    expect(within(http).getByText('hidden from tools/list')).toBeTruthy();
    expect(within(http).queryByRole('checkbox')).toBeNull();
  });

  it('lets an admin show or hide the always-blocked tools of an HTTP upstream in tools/list', async () => {
    const shown = { value: false };
    const api = fakeApi({
      ...routes('admin'),
      'GET mcp/http-upstreams': () => ({ items: [{ ...remote, show_blocked_tools: shown.value }] }),
      'PATCH mcp/http-upstreams/:id': ({ body }) => {
        shown.value = (body as { show_blocked_tools: boolean }).show_blocked_tools;
        return { ...remote, show_blocked_tools: shown.value };
      },
    });
    renderApp('#/mcp');
    const http = await screen.findByRole('table', { name: 'HTTP upstreams' });
    const box = await within(http).findByRole('checkbox', {
      name: 'Show always-blocked tools of github in tools/list',
    });
    expect((box as HTMLInputElement).checked).toBe(false);
    fireEvent.click(box);
    await waitFor(() => expect((box as HTMLInputElement).checked).toBe(true));
    expect(api.received.filter((r) => r.method === 'PATCH')).toEqual([
      expect.objectContaining({
        path: 'mcp/http-upstreams/h1',
        body: { show_blocked_tools: true },
      }),
    ]);
    fireEvent.click(box);
    await waitFor(() => expect((box as HTMLInputElement).checked).toBe(false));
    expect(api.received.filter((r) => r.method === 'PATCH').map((r) => r.body)).toEqual([
      { show_blocked_tools: true },
      { show_blocked_tools: false },
    ]);
  });

  it('adds an HTTP upstream with write-only credentials, and removes one', async () => {
    const api = fakeApi({
      ...routes('admin'),
      'POST mcp/http-upstreams': () => remote,
      'DELETE mcp/http-upstreams/:id': () => ({ ok: true }),
    });
    renderApp('#/mcp');
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'New HTTP upstream' }));
    const form = screen.getByRole('form', { name: 'New HTTP upstream' });
    await user.type(within(form).getByLabelText(/^Name/), 'github');
    await user.type(within(form).getByLabelText('Upstream URL'), 'https://example.com/mcp');
    await user.type(within(form).getByLabelText(/Bearer token/), 'ghp_secret');
    await user.type(within(form).getByLabelText(/Headers/), 'Authorization x');
    await user.click(within(form).getByRole('button', { name: 'Add upstream' }));
    // A header line without a colon is refused in the form, saying how to write it.
    expect((await within(form).findByRole('alert')).textContent).toContain('"Name: value"');
    await user.clear(within(form).getByLabelText(/Headers/));
    await user.type(within(form).getByLabelText(/Headers/), 'X-Team: blue');
    await user.click(within(form).getByRole('button', { name: 'Add upstream' }));
    await waitFor(() =>
      expect(api.received.find((r) => r.method === 'POST')?.body).toEqual({
        name: 'github',
        url: 'https://example.com/mcp',
        headers: { 'X-Team': 'blue' },
        bearer_token: 'ghp_secret',
      }),
    );
    await waitFor(() =>
      expect(screen.queryByRole('form', { name: 'New HTTP upstream' })).toBeNull(),
    );

    const http = screen.getByRole('table', { name: 'HTTP upstreams' });
    await user.click(within(http).getByRole('button', { name: 'Remove' }));
    await user.click(within(http).getByRole('button', { name: 'Remove github' }));
    await waitFor(() =>
      expect(
        api.received.some((r) => r.method === 'DELETE' && r.path === 'mcp/http-upstreams/h1'),
      ).toBe(true),
    );
  });

  it('shows the MCP server of an MCP call on the action page', async () => {
    fakeApi({
      ...routes('viewer'),
      'GET actions/:id': () => ({
        ...action({
          id: 'a1',
          tool_name: 'mcp.files.delete_file',
          metadata: { mcp: { server: 'files', tool: 'delete_file' } },
        }),
        agent_name: 'support-bot',
        decided_by_email: null,
        deliveries: [],
      }),
      'GET actions/:id/channel-messages': () => ({ items: [] }),
    });
    renderApp('#/actions/a1');
    const server = await screen.findByRole('link', { name: 'files' });
    expect(server.getAttribute('href')).toBe('#/mcp?agent=agent-1&environment=test');
  });

  it('shows the MCP server under an MCP call in the action log, and none for other calls', async () => {
    fakeApi({
      ...routes('viewer'),
      'GET actions': () => ({
        items: [
          action({
            id: 'a1',
            tool_name: 'mcp.files.delete_file',
            metadata: { mcp: { server: 'files', tool: 'delete_file' } },
          }),
          action({ id: 'a2', tool_name: 'stripe.issue_refund' }),
        ],
        next_cursor: null,
      }),
    });
    renderApp('#/actions');
    const call = await screen.findByRole('link', { name: 'mcp.files.delete_file' });
    expect(call.closest('td')?.textContent).toContain('MCP server files');
    const other = screen.getByRole('link', { name: 'stripe.issue_refund' });
    expect(other.closest('td')?.textContent).not.toContain('MCP server');
  });

  it('offers the discovered MCP tool names in the policy editor', async () => {
    fakeApi({
      ...routes('admin'),
      'GET agents/:id/policies/:environment': () => ({
        agent_id: 'agent-1',
        environment: 'test',
        version: 1,
        policies: [],
        updated_at: '2026-11-24T10:00:00.000Z',
        updated_by: 'user-admin',
      }),
      'POST agents/:id/policies/:environment/validate': () => ({ valid: true, issues: [] }),
    });
    renderApp('#/policies?tab=editor');
    const editor = (await screen.findByRole('textbox', {
      name: 'Policies (YAML)',
    })) as HTMLTextAreaElement;
    const list = await screen.findByRole('list', { name: 'Discovered MCP tools' });
    expect(
      within(list)
        .getAllByRole('button')
        .map((button) => button.textContent),
    ).toEqual(['mcp.files.delete_file', 'mcp.files.read_file']);
    const options = [...document.querySelectorAll('#policy-tool-names option')].map((option) =>
      option.getAttribute('value'),
    );
    expect(options).toEqual(['mcp.files.delete_file', 'mcp.files.read_file']);
    editor.setSelectionRange(editor.value.length, editor.value.length);
    fireEvent.click(within(list).getByRole('button', { name: 'mcp.files.read_file' }));
    await waitFor(() => expect(editor.value).toContain('mcp.files.read_file'));
  });

  it('refreshes the policy editor’s discovered tool names when a gateway reports', async () => {
    const tools = { value: filesDetail.tools.slice(1) };
    fakeApi({
      ...routes('admin'),
      'GET mcp/upstreams/:id': () => ({ ...filesDetail, tools: tools.value }),
      'GET agents/:id/policies/:environment': () => ({
        agent_id: 'agent-1',
        environment: 'test',
        version: 1,
        policies: [],
        updated_at: '2026-11-24T10:00:00.000Z',
        updated_by: 'user-admin',
      }),
      'POST agents/:id/policies/:environment/validate': () => ({ valid: true, issues: [] }),
    });
    const { live } = renderApp('#/policies?tab=editor');
    const list = await screen.findByRole('list', { name: 'Discovered MCP tools' });
    const names = () =>
      within(list)
        .getAllByRole('button')
        .map((button) => button.textContent);
    expect(names()).toEqual(['mcp.files.read_file']);
    act(() => live.current.open());
    tools.value = filesDetail.tools;
    // Another agent's report changes nothing here.
    act(() =>
      live.current.send({
        type: 'mcp.tools_reported',
        at: files.updated_at,
        agent_id: 'agent-2',
        mcp_upstream: { ...files, id: 'u2', agent_id: 'agent-2' },
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(names()).toEqual(['mcp.files.read_file']);
    act(() =>
      live.current.send({
        type: 'mcp.tools_reported',
        at: files.updated_at,
        agent_id: 'agent-1',
        mcp_upstream: files,
      }),
    );
    await waitFor(() => expect(names()).toEqual(['mcp.files.delete_file', 'mcp.files.read_file']));
  });
});
