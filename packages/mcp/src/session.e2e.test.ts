import { startTestServer, type TestServer } from '@arden/server/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type Connected, connect, serverEntry, textOf } from './test-helpers';

// The stdio gateway's Arden session: one per run (client connection), or the one `--session`
// names. Refused repeats and `session.calls` count within it. The real MCP SDK client over stdio,
// the real server-everything behind the built gateway, a real Arden server.
let t: TestServer;
const open: Connected[] = [];

beforeAll(async () => {
  t = await startTestServer({
    policies: [
      {
        name: 'Nothing forbidden',
        tool: 'mcp.everything.echo',
        rules: [{ if: 'args.message == "forbidden"', then: 'block' }],
        default: 'allow',
      },
      {
        name: 'Two echoes a session',
        tool: 'mcp.counted.echo',
        rules: [{ if: 'session.calls("mcp.counted.echo") >= 2', then: 'block' }],
        default: 'allow',
      },
    ],
  });
});

afterAll(async () => {
  await t.close();
});

afterEach(async () => {
  while (open.length > 0) await open.pop()?.close();
});

async function gateway(name: string, extra: string[] = []): Promise<Connected> {
  const connected = await connect(
    [process.execPath, serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
    { gateway: ['--name', name, ...extra], arden: { url: t.url, key: t.key } },
  );
  open.push(connected);
  return connected;
}

const echo = (connected: Connected, message: string) =>
  connected.client.callTool({ name: 'echo', arguments: { message } });

describe('the stdio gateway session', () => {
  test('a refused call repeated in one run is refused at once as a repeat of the first', async () => {
    const connected = await gateway('everything');
    const first = await echo(connected, 'forbidden');
    expect(first.isError).toBe(true);
    const again = await echo(connected, 'forbidden');
    expect(again.isError).toBe(true);
    expect(textOf(again)).toMatch(/already/i);
    const refused = (await t.actions()).filter(
      (action) => action.toolName === 'mcp.everything.echo',
    );
    expect(refused).toHaveLength(2);
    const [original, repeat] = refused;
    expect(original?.sessionId).toMatch(/^mcp-/);
    expect(repeat).toMatchObject({
      sessionId: original?.sessionId,
      reason: 'repeat_refused',
      repeatOf: original?.id,
    });
  });

  test('session.calls counts the calls of one run; a new run is a new session, --session shares one', async () => {
    const first = await gateway('counted');
    expect(textOf(await echo(first, 'a'))).toContain('a');
    expect(textOf(await echo(first, 'b'))).toContain('b');
    expect((await echo(first, 'c')).isError).toBe(true);
    const runs = new Set(
      (await t.actions())
        .filter((action) => action.toolName === 'mcp.counted.echo')
        .map((action) => action.sessionId),
    );
    expect(runs.size).toBe(1);
    // Another run starts a session of its own.
    const second = await gateway('counted');
    expect((await echo(second, 'd')).isError).toBeFalsy();
    // Two runs naming one session share its count.
    const named = await gateway('counted', ['--session', 'nightly-job']);
    await echo(named, 'e');
    await echo(named, 'f');
    const resumed = await gateway('counted', ['--session=nightly-job']);
    expect((await echo(resumed, 'g')).isError).toBe(true);
    expect(await t.actions({ sessionId: 'nightly-job' })).toHaveLength(3);
  });
});
