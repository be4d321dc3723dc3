import { describe, expect, test } from 'vitest';
import type { CliIo } from '../io';
import { mcpCommand } from './mcp';

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env: {},
    cwd: '/',
  };
  return { io, out, err };
}

describe('arden mcp', () => {
  test('hands the arguments and the terminal to @arden/mcp', async () => {
    const { io, out, err } = captureIo();
    const seen: string[][] = [];
    const code = await mcpCommand(
      ['run', '--name', 'github', '--', 'npx', 'server'],
      io,
      async () => ({
        async runMcpCli(argv, streams) {
          seen.push(argv);
          streams.stdout.write('{"jsonrpc":"2.0"}\n');
          streams.stderr.write('diagnostic\n');
          return 0;
        },
      }),
    );
    expect(code).toBe(0);
    expect(seen).toEqual([['run', '--name', 'github', '--', 'npx', 'server']]);
    expect(out.join('')).toBe('{"jsonrpc":"2.0"}\n');
    expect(err.join('')).toBe('diagnostic\n');
  });

  test('without @arden/mcp installed, says how to get it', async () => {
    const { io } = captureIo();
    await expect(
      mcpCommand(['run', '--name', 'x'], io, async () => {
        throw new Error("Cannot find package '@arden/mcp'");
      }),
    ).rejects.toThrow(/npx @arden\/mcp run --name x.*npm install -g @arden\/mcp/);
  });
});
