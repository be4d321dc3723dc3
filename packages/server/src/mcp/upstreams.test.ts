// MCP upstreams (issue #15): a gateway reports its upstream's tools/list; Arden records each
// tool with its schema and annotations, answers which tools a policy blocks for every call (the
// gateway hides them), and reads an untrusted upstream's hints at their most cautious.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';

let t: AdminTestServer;

const tools = [
  {
    name: 'read_file',
    description: 'Read a file',
    input_schema: { type: 'object', properties: { path: { type: 'string' } } },
    annotations: { readOnlyHint: true },
  },
  { name: 'write_file', annotations: { destructiveHint: true } },
  { name: 'move_file' },
];

beforeAll(async () => {
  t = await startAdminTestServer({ workers: false }, { listen: false });
  await t.server.policies.saveSet(t.agent.id, 'live', [
    { name: 'No writes', tool: 'mcp.fs.write_file', action: 'block' },
    {
      name: 'Files',
      tool: 'mcp.fs.*',
      rules: [{ if: 'mcp.annotations.?readOnlyHint.orValue(false)', then: 'allow' }],
      default: 'requires_approval',
    },
  ]);
});

afterAll(async () => {
  await t.close();
});

const report = (body: unknown, key?: string) =>
  t.request('POST', '/v1/mcp/tools', { body, ...(key === undefined ? {} : { key }) });

describe('POST /v1/mcp/tools', () => {
  it('records the tools and answers which ones a policy blocks for every call', async () => {
    const answer = await report({ server: 'fs', transport: 'stdio', tools });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      server: 'fs',
      trusted: false,
      hidden: [{ name: 'write_file', policy: 'No writes' }],
    });

    const list = await t.admin('GET', `/api/v1/mcp/upstreams?agent=${t.agent.name}`, {
      as: 'viewer',
    });
    expect(list.status).toBe(200);
    const upstream = list.json.items.find((item: { name: string }) => item.name === 'fs');
    expect(upstream).toMatchObject({
      environment: 'live',
      transport: 'stdio',
      trusted: false,
      tool_count: 3,
    });
    const detail = await t.admin('GET', `/api/v1/mcp/upstreams/${upstream.id}`, { as: 'viewer' });
    expect(detail.json.tools).toEqual([
      {
        name: 'read_file',
        arden_tool: 'mcp.fs.read_file',
        title: null,
        description: 'Read a file',
        input_schema: tools[0]?.input_schema,
        annotations: { readOnlyHint: true },
        policy: { name: 'Files', tool: 'mcp.fs.*', always_blocks: false },
      },
      {
        name: 'write_file',
        arden_tool: 'mcp.fs.write_file',
        title: null,
        description: null,
        input_schema: null,
        annotations: { destructiveHint: true },
        policy: { name: 'No writes', tool: 'mcp.fs.write_file', always_blocks: true },
      },
      {
        name: 'move_file',
        arden_tool: 'mcp.fs.move_file',
        title: null,
        description: null,
        input_schema: null,
        annotations: {},
        policy: { name: 'Files', tool: 'mcp.fs.*', always_blocks: false },
      },
    ]);

    // A second report replaces the list; the upstream stays one row.
    await report({ server: 'fs', tools: tools.slice(0, 1) });
    const again = await t.admin('GET', `/api/v1/mcp/upstreams/${upstream.id}`);
    expect(again.json.tools.map((tool: { name: string }) => tool.name)).toEqual(['read_file']);
  });

  it('refuses a bad report with a JSON error naming the field, and an unauthenticated one', async () => {
    const bad = await report({ server: 'my.server', tools: [] });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/server: use 1 to 64 letters/);
    expect(bad.json.field).toBe('server');
    const noTools = await report({ server: 'fs', tools: [{ title: 'x' }] });
    expect(noTools.status).toBe(400);
    expect(noTools.json.field).toBe('tools.0.name');
    const anonymous = await report({ server: 'fs', tools: [] }, null as unknown as string);
    expect(anonymous.status).toBe(401);
  });
});

describe("an untrusted upstream's annotations never relax a rule", () => {
  const check = async (server: string, annotations: Record<string, unknown>) =>
    (
      await t.request('POST', '/policy/check', {
        body: {
          tool_name: `mcp.${server}.read_file`,
          kwargs: { path: 'a' },
          metadata: { mcp: { server, tool: 'read_file', annotations } },
        },
      })
    ).json as { decision: string };

  it('holds a "read-only" tool of an untrusted server, allows it once an admin trusts the server', async () => {
    expect((await check('fs', { readOnlyHint: true })).decision).toBe('requires_approval');

    const list = await t.admin('GET', '/api/v1/mcp/upstreams');
    const id = list.json.items.find((item: { name: string }) => item.name === 'fs').id;
    // Only an admin may change trust.
    expect(
      (
        await t.admin('PATCH', `/api/v1/mcp/upstreams/${id}`, {
          as: 'approver',
          body: { trusted: true },
        })
      ).status,
    ).toBe(403);
    const trusted = await t.admin('PATCH', `/api/v1/mcp/upstreams/${id}`, {
      body: { trusted: true },
    });
    expect(trusted.json).toMatchObject({ name: 'fs', trusted: true });
    expect(trusted.json.trusted_by).toEqual(expect.any(String));
    expect((await check('fs', { readOnlyHint: true })).decision).toBe('allow');
    // A trusted server's own hint still decides: without it the call is held.
    expect((await check('fs', {})).decision).toBe('requires_approval');

    await t.admin('PATCH', `/api/v1/mcp/upstreams/${id}`, { body: { trusted: false } });
    expect((await check('fs', { readOnlyHint: true })).decision).toBe('requires_approval');
  });

  it('an admin can trust a server before any gateway reported it', async () => {
    await t.server.policies.saveSet(t.agent.id, 'live', [
      {
        name: 'Docs',
        tool: 'mcp.docs.*',
        rules: [{ if: 'mcp.annotations.?readOnlyHint.orValue(false)', then: 'allow' }],
        default: 'block',
      },
    ]);
    const checkDocs = () => check('docs', { readOnlyHint: true });
    expect((await checkDocs()).decision).toBe('block');
    const created = await t.admin('POST', '/api/v1/mcp/upstreams', {
      body: { agent: t.agent.name, environment: 'live', name: 'docs', trusted: true },
    });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ name: 'docs', trusted: true, tool_count: 0 });
    expect((await checkDocs()).decision).toBe('allow');
  });
});
