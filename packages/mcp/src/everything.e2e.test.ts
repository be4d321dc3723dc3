import { mountAdmin, UserAdministration } from '@arden/server';
import { startTestServer, type TestServer } from '@arden/server/testing';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Connected, connect, eventually, serverEntry, textOf } from './test-helpers';

// The real @modelcontextprotocol/server-everything, directly and behind the gateway in the same
// test: what the client sees must be the same, for every MCP feature the server exercises.
let t: TestServer;
/** An admin's token for the admin API (mounted in this process, as `arden serve` does). */
let adminToken: string;
/**
 * Whether the server can run in this process (node:sqlite, Node >= 22.13) with the admin API
 * mounted. On Node 20 it runs in a child process without it, and the one test that reads the
 * admin API runs in the Node 24 run only (scripts/summarize-tests.mjs counts it there).
 */
const inProcess = Boolean(process.getBuiltinModule?.('node:sqlite'));

beforeAll(async () => {
  const policies = [
    { name: 'No environment dumps', tool: 'mcp.everything.get-env', action: 'block' as const },
  ];
  if (!inProcess) {
    t = await startTestServer({ policies });
    return;
  }
  t = await startTestServer({
    mode: 'in-process',
    policies,
    config: {
      plugins: [(server) => void mountAdmin(server, { insecureTestPasswordHashing: true })],
    },
  });
  const users = new UserAdministration(t.server.store, Date.now, {
    insecureTestPasswordHashing: true,
  });
  const { user } = await users.createUser({
    email: 'admin@example.com',
    role: 'admin',
    password: 'a-long-test-password-0123',
  });
  adminToken = (await users.createToken(user.id, 'everything test')).token;
});

async function adminGet(path: string): Promise<any> {
  const response = await fetch(`${t.url}${path}`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  expect(response.status).toBe(200);
  return response.json();
}

afterAll(async () => {
  await t.close();
});

const everything = () => [
  process.execPath,
  serverEntry('@modelcontextprotocol/server-everything'),
  'stdio',
];
const capabilities = {
  capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } },
};

/** A client with handlers for the server's requests, noting what arrived. */
async function open(through: 'direct' | 'gateway') {
  const seen = {
    sampling: [] as unknown[],
    elicitation: [] as unknown[],
    logs: [] as unknown[],
    toolListChanged: 0,
    resourceUpdates: [] as unknown[],
  };
  const connected: Connected = await connect(everything(), {
    ...(through === 'gateway'
      ? { gateway: ['--name', 'everything'], arden: { url: t.url, key: t.key } }
      : {}),
    capabilities,
  });
  const { client } = connected;
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    seen.sampling.push(request.params);
    return {
      model: 'scripted',
      role: 'assistant',
      content: { type: 'text', text: 'sampled answer 42' },
    };
  });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    seen.elicitation.push(request.params);
    return { action: 'accept', content: { name: 'Ada Lovelace' } };
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: [{ uri: 'file:///workspace', name: 'workspace' }],
  }));
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    seen.logs.push(notification.params);
  });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    seen.toolListChanged += 1;
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
    seen.resourceUpdates.push(notification.params);
  });
  return { ...connected, seen };
}

/** What a client sees of the server, for comparison. */
async function survey(connected: Awaited<ReturnType<typeof open>>) {
  const { client } = connected;
  const tools = await eventually(
    () => client.listTools(),
    (list) => list.tools.some((tool) => tool.name === 'trigger-sampling-request'),
  );
  const prompts = await client.listPrompts();
  const resources = await client.listResources();
  const templates = await client.listResourceTemplates();
  const firstResource = resources.resources[0];
  return {
    capabilities: client.getServerCapabilities(),
    version: client.getServerVersion(),
    instructions: client.getInstructions(),
    tools,
    prompts,
    simplePrompt: await client.getPrompt({ name: 'simple-prompt' }),
    completion: await client.complete({
      ref: { type: 'ref/prompt', name: 'completable-prompt' },
      argument: { name: 'department', value: 'E' },
    }),
    resources,
    templates,
    read: firstResource ? await client.readResource({ uri: firstResource.uri }) : undefined,
  };
}

describe('stdio gateway in front of server-everything', () => {
  test('initialize, tools, prompts, completions and resources are the same as direct', async () => {
    const direct = await open('direct');
    const expected = await survey(direct);
    await direct.close();
    const gateway = await open('gateway');
    const actual = await survey(gateway);
    await gateway.close();
    // Except get-env, which a policy blocks for every call: the gateway leaves it out of the list.
    expect(expected.tools.tools.some((tool) => tool.name === 'get-env')).toBe(true);
    expect(actual).toEqual({
      ...expected,
      tools: {
        ...expected.tools,
        tools: expected.tools.tools.filter((tool) => tool.name !== 'get-env'),
      },
    });
    expect(expected.tools.tools.length).toBeGreaterThan(10);
  });

  test('sampling, elicitation, roots, progress, logging and list-changed notifications pass through', async () => {
    const connected = await open('gateway');
    const { client, seen } = connected;
    try {
      await eventually(
        () => client.listTools(),
        (list) => list.tools.some((tool) => tool.name === 'trigger-elicitation-request'),
      );
      expect(seen.toolListChanged).toBeGreaterThan(0);

      const sampled = await client.callTool({
        name: 'trigger-sampling-request',
        arguments: { prompt: 'What is 6 x 7?' },
      });
      expect(JSON.stringify(sampled)).toContain('sampled answer 42');
      expect(JSON.stringify(seen.sampling[0])).toContain('What is 6 x 7?');

      const elicited = await client.callTool({
        name: 'trigger-elicitation-request',
        arguments: {},
      });
      expect(JSON.stringify(elicited)).toContain('Ada Lovelace');
      expect(seen.elicitation).toHaveLength(1);

      const roots = await client.callTool({ name: 'get-roots-list', arguments: {} });
      expect(textOf(roots)).toContain('file:///workspace');

      const progress: Array<{ progress: number; total?: number }> = [];
      const long = await client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
        undefined,
        { onprogress: (event) => progress.push(event) },
      );
      expect(textOf(long)).toContain('Steps: 3');
      // The MCP SDK client runs notification handlers in a microtask but drops a request's progress
      // handler as soon as its answer is read, so a last progress that arrives in the same chunk as
      // the answer can be missed — directly as through the gateway. The rest arrive in order.
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress.map((event) => [event.progress, event.total])).toEqual(
        [
          [1, 3],
          [2, 3],
          [3, 3],
        ].slice(0, progress.length),
      );

      await client.setLoggingLevel('debug');
      await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
      await eventually(
        () => seen.logs.length,
        (count) => count > 0,
      );
      expect(seen.logs[0]).toMatchObject({ level: expect.any(String) });

      const blocked = await client.callTool({ name: 'get-env', arguments: {} });
      expect(blocked.isError).toBe(true);
      expect(textOf(blocked)).toContain('No environment dumps');
      expect(textOf(blocked)).not.toContain('ARDEN_API_KEY');

      const checked = (await t.actions()).map((action) => action.toolName);
      expect(checked).toEqual(
        expect.arrayContaining([
          'mcp.everything.trigger-sampling-request',
          'mcp.everything.trigger-elicitation-request',
          'mcp.everything.get-roots-list',
          'mcp.everything.trigger-long-running-operation',
          'mcp.everything.get-env',
        ]),
      );
    } finally {
      await connected.close();
    }
  });

  test('sampling, elicitation, roots and resource subscriptions give the same as direct, byte for byte', async () => {
    /** One scripted exchange with the server; what the client got back and what it was asked. */
    const exchange = async (through: 'direct' | 'gateway') => {
      const connected = await open(through);
      const { client, seen } = connected;
      try {
        await eventually(
          () => client.listTools(),
          (list) => list.tools.some((tool) => tool.name === 'trigger-elicitation-request'),
        );
        const sampled = await client.callTool({
          name: 'trigger-sampling-request',
          arguments: { prompt: 'What is 6 x 7?', maxTokens: 50 },
        });
        const elicited = await client.callTool({
          name: 'trigger-elicitation-request',
          arguments: {},
        });
        const roots = await client.callTool({ name: 'get-roots-list', arguments: {} });
        const uri = (await client.listResources()).resources[0]?.uri as string;
        await client.subscribeResource({ uri });
        // Starts the server's updates of subscribed resources: the first is sent at once.
        const started = await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
        await eventually(
          () => seen.resourceUpdates.length,
          (count) => count > 0,
        );
        const stopped = await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
        await client.unsubscribeResource({ uri });
        return {
          sampled,
          elicited,
          roots,
          started,
          stopped,
          uri,
          samplingRequest: seen.sampling[0],
          elicitationRequest: seen.elicitation[0],
          firstUpdate: seen.resourceUpdates[0],
        };
      } finally {
        await connected.close();
      }
    };
    const direct = await exchange('direct');
    const gateway = await exchange('gateway');
    expect(direct.firstUpdate).toEqual({ uri: direct.uri });
    expect(JSON.stringify(direct.sampled)).toContain('sampled answer 42');
    expect(JSON.stringify(gateway)).toBe(JSON.stringify(direct));
    const checked = (await t.actions()).map((action) => action.toolName);
    expect(checked).toEqual(
      expect.arrayContaining([
        'mcp.everything.toggle-subscriber-updates',
        'mcp.everything.get-roots-list',
      ]),
    );
  });

  test.skipIf(!inProcess)(
    "the tool report reaches Arden: each tool's input schema and annotations, read back with the admin API",
    async () => {
      const direct = await open('direct');
      const expected = (await direct.client.listTools()).tools;
      await direct.close();
      const connected = await open('gateway');
      try {
        await eventually(
          () => connected.client.listTools(),
          (list) => list.tools.some((tool) => tool.name === 'trigger-sampling-request'),
        );
      } finally {
        await connected.close();
      }
      // What the client asked for that the model is not offered (get-env) is recorded too.
      expect(expected.some((tool) => tool.name === 'get-env')).toBe(true);
      expect(expected.some((tool) => Object.keys(tool.annotations ?? {}).length > 0)).toBe(true);
      const upstream = await eventually(
        async () =>
          (await adminGet('/api/v1/mcp/upstreams')).items.find(
            (item: { name: string; transport?: string }) => item.name === 'everything',
          ),
        (item) => item !== undefined,
      );
      const detail = await eventually(
        () => adminGet(`/api/v1/mcp/upstreams/${upstream.id}`),
        (body) => body.tools.length === expected.length,
      );
      expect(detail.name).toBe('everything');
      const recorded = new Map<string, any>(
        detail.tools.map((tool: { name: string }) => [tool.name, tool]),
      );
      expect([...recorded.keys()].sort()).toEqual(expected.map((tool) => tool.name).sort());
      for (const tool of expected) {
        const seen = recorded.get(tool.name);
        expect(seen, tool.name).toMatchObject({
          arden_tool: `mcp.everything.${tool.name}`,
          input_schema: tool.inputSchema,
          annotations: tool.annotations ?? {},
          description: tool.description ?? null,
        });
      }
      expect(recorded.get('get-env')?.policy).toMatchObject({ name: 'No environment dumps' });
    },
  );

  test("the upstream never sees Arden's key", async () => {
    const connected = await connect(everything(), {
      gateway: ['--name', 'noenvpolicy'],
      arden: { url: t.url, key: t.key },
    });
    try {
      const env = await connected.client.callTool({ name: 'get-env', arguments: {} });
      expect(textOf(env)).toContain('PATH');
      expect(textOf(env)).not.toContain('ARDEN_API_KEY');
      expect(textOf(env)).not.toContain(t.key);
    } finally {
      await connected.close();
    }
  });
});
