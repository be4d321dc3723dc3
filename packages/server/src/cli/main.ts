import { ArdenServerError } from '../errors';
import { loadSqlite, UnsupportedNodeError } from '../store/sqlite-module';
import { actionsCommand } from './commands/actions';
import { agentsCommand } from './commands/agents';
import { approvalsCommand } from './commands/approvals';
import { channelsCommand } from './commands/channels';
import { hookCommand } from './commands/hook';
import { migrateCommand, tokensCommand, usersCommand } from './commands/local';
import { mcpCommand } from './commands/mcp';
import { policiesCommand } from './commands/policies';
import { auditCommand, receiptsCommand } from './commands/receipts';
import { startCommand } from './commands/start';
import { CliError, type CliIo, exitCodes } from './io';

/** The version of this CLI (replaced at build time). */
declare const __ARDEN_VERSION__: string | undefined;
const version = typeof __ARDEN_VERSION__ === 'string' ? __ARDEN_VERSION__ : '0.0.0-dev';

const help = `arden — policy enforcement, human approval and observability for AI agent tool calls

Usage: arden <command> [options]

Server:
  start                 start the server and dashboard (--demo for a live demo agent)
  migrate               create or upgrade the database

Talking to a running server (--url / ARDEN_URL, --token / ARDEN_ADMIN_TOKEN):
  agents                create, list, update agents; keys create|rotate|revoke
  policies              apply, diff and get policies (policies test runs locally)
  approvals             list held calls; approve or deny them
  actions               reveal an action's sensitive arguments (admins; logged); reads: who did
  channels              Slack, email and webhook channels that ask approvers; agent defaults

Receipts and the audit log (docs/security.md):
  receipts verify       verify a signed receipt offline (--keys from /.well-known/arden-keys.json)
  audit verify          walk the audit chains of the database (--data-dir / --db) and exported checkpoints

MCP (needs the @arden/mcp package; the same as its \`arden-mcp\` command):
  mcp run               run an MCP server behind Arden: every tools/call checked (docs/integrations/mcp.md)
  mcp install|uninstall put a client's MCP servers behind Arden (--client claude-code|claude-desktop|cursor|vscode|codex)
  mcp upstreams         remote MCP servers behind this server's gateway at /mcp/<name>: add|list|set|remove (no @arden/mcp needed)

Coding agents:
  hook                  coding agents' hooks (hook claude-code, hook codex); hook install|uninstall claude-code|codex

On the server's machine (open the store directly; --data-dir / --db):
  users                 create users, reset passwords
  tokens                create admin tokens for the CLI and automation

Run \`arden <command> --help\` for the options of a command. Docs: docs/cli.md.
start, migrate, users, tokens and audit need Node.js 22.13+; the others also run on Node.js 20.
Exit codes: 0 ok, 1 failed, 2 wrong usage, 3 invalid policy file, 4 server unreachable.
`;

// These run the server or open the store directly, so they need `node:sqlite` (Node.js 22.13+);
// the others only talk HTTP to a running server and work on Node.js 20.
const storeCommands = new Set(['start', 'migrate', 'users', 'tokens', 'audit']);

const commands: Record<string, (argv: string[], io: CliIo) => Promise<number>> = {
  start: startCommand,
  migrate: migrateCommand,
  agents: agentsCommand,
  policies: policiesCommand,
  approvals: approvalsCommand,
  actions: actionsCommand,
  channels: channelsCommand,
  hook: hookCommand,
  users: usersCommand,
  tokens: tokensCommand,
  receipts: receiptsCommand,
  audit: auditCommand,
  mcp: (argv, io) => mcpCommand(argv, io),
};

/** Runs `arden` with `argv` (without the node and script paths); resolves with the exit code. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout(help);
    return name === undefined ? exitCodes.usage : exitCodes.ok;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout(`${version}\n`);
    return exitCodes.ok;
  }
  const command = commands[name];
  if (!command) {
    io.stderr(
      `Unknown command "${name}". Commands: ${Object.keys(commands).join(', ')}. See \`arden --help\`.\n`,
    );
    return exitCodes.usage;
  }
  try {
    if (storeCommands.has(name) && !rest.includes('--help') && !rest.includes('-h')) {
      loadSqlite(`arden ${name}`);
    }
    return await command(rest, io);
  } catch (error) {
    if (error instanceof UnsupportedNodeError) {
      io.stderr(
        `error: ${error.message}\nThe commands that talk to a running server (agents, policies, approvals) also work on Node.js 20.\n`,
      );
      return exitCodes.failure;
    }
    if (error instanceof CliError) {
      io.stderr(`error: ${error.message}\n`);
      return error.exitCode;
    }
    if (ArdenServerError.isInstance(error)) {
      // A refusal of the store-direct commands (unknown user, duplicate email, bad value).
      io.stderr(`error: ${error.message}\n`);
      return error.status === 400 ? exitCodes.usage : exitCodes.failure;
    }
    io.stderr(
      `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\nThis looks like a bug in arden; please report it with the command you ran.\n`,
    );
    return exitCodes.failure;
  }
}
