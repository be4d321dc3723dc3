// Shared by the end-to-end tests: the built `arden-mcp` command in front of a real MCP server,
// reached by the real MCP SDK client over stdio.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';

const require = createRequire(import.meta.url);
const packageDirectory = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The built command line, as `npx arden-mcp` runs it. */
export const gatewayBin = join(packageDirectory, 'dist', 'bin.js');

/** The entry of a real MCP server from npm. */
export function serverEntry(
  name: '@modelcontextprotocol/server-filesystem' | '@modelcontextprotocol/server-everything',
): string {
  return join(dirname(require.resolve(`${name}/package.json`)), 'dist', 'index.js');
}

/** The misbehaving test server. */
export const faultServer = join(packageDirectory, 'test-fixtures', 'fault-server.mjs');

/** A connected MCP client and what the process it talks to wrote to stderr. */
export interface Connected {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
  close: () => Promise<void>;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The gateway's options before `--` (omit to talk to the upstream directly). */
  gateway?: string[];
  /** Arden's address and key for the gateway. */
  arden?: { url: string; key: string };
  /** The client's capabilities. */
  capabilities?: ConstructorParameters<typeof Client>[1];
}

/** Starts `upstream` (a command and its arguments) behind the gateway, or directly, and connects a client. */
export async function connect(
  upstream: string[],
  options: ConnectOptions = {},
): Promise<Connected> {
  const command = options.gateway
    ? [gatewayBin, 'run', ...options.gateway, '--', ...upstream]
    : upstream.slice(1);
  const transport = new StdioClientTransport({
    command: options.gateway ? process.execPath : (upstream[0] as string),
    args: command,
    env: {
      ...getDefaultEnvironment(),
      ...(options.arden
        ? { ARDEN_API_URL: options.arden.url, ARDEN_API_KEY: options.arden.key }
        : {}),
      ARDEN_LOG_LEVEL: 'warn',
    },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const client = new Client({ name: 'arden-mcp-test', version: '1.0.0' }, options.capabilities);
  await client.connect(transport);
  return { client, transport, stderr: () => stderr, close: () => client.close() };
}

/** Reads until `done` holds or 5 s pass. */
export async function eventually<T>(
  read: () => Promise<T> | T,
  done: (value: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The text of a CallToolResult's first text part. */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.find((part) => part.type === 'text')?.text ?? '';
}
