import { Writable } from 'node:stream';
import { CliError, type CliIo, exitCodes } from '../io';
import { mcpUpstreamsCommand } from './mcp-upstreams';

/** What `arden mcp` needs of `@arden/mcp`: its command line. */
interface McpPackage {
  runMcpCli(
    argv: string[],
    io: { stdout: Writable; stderr: Writable; stdin?: NodeJS.ReadableStream },
  ): Promise<number>;
}

// A name in a variable: the server does not depend on @arden/mcp (the gateway is its own
// package, which the server's tests must not build first), so nothing bundles or resolves it
// until `arden mcp` runs.
const mcpPackageName = '@arden/mcp';

/**
 * `arden mcp …`: the MCP gateway and client installers, which live in `@arden/mcp` (its own
 * command is `arden-mcp`). This only hands the arguments over, so the gateway never loads the
 * server's store; without the package installed it says how to get it.
 */
export async function mcpCommand(
  argv: string[],
  io: CliIo,
  load: () => Promise<McpPackage> = () => import(mcpPackageName) as Promise<McpPackage>,
): Promise<number> {
  // The server's own HTTP gateway is administered here, not by the stdio package.
  if (argv[0] === 'upstreams') return mcpUpstreamsCommand(argv.slice(1), io);
  let mcp: McpPackage;
  try {
    mcp = await load();
  } catch (error) {
    throw new CliError(
      `\`arden mcp\` needs the @arden/mcp package, which is not installed here (${(error as Error).message.split('\n')[0]}). Run it with \`npx @arden/mcp ${argv.join(' ')}\`, or install it: \`npm install -g @arden/mcp\` (its command is \`arden-mcp\`).`,
      exitCodes.failure,
    );
  }
  const writer = (write: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        write(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
        done();
      },
    });
  return mcp.runMcpCli(argv, { stdout: writer(io.stdout), stderr: writer(io.stderr) });
}
