/**
 * The `arden-mcp` command line (also reached as `arden mcp …` from the server's CLI):
 * `run` starts the stdio gateway in front of an MCP server.
 */

import { homedir } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import {
  ConfigurationError,
  createArden,
  type Logger,
  type LogLevel,
  type UnavailableBehaviour,
} from '@arden/core';
import { McpGateway } from './gateway';
import { type ClientName, clientNames, type Scope } from './install/clients';
import {
  type InstallReport,
  installGateway,
  scopesToRewrite,
  uncheckedElsewhere,
  uninstallGateway,
} from './install/install';
import { defaultGatewayCommand } from './install/wrap';

/** The version of this package (replaced at build time). */
declare const __ARDEN_MCP_VERSION__: string | undefined;
const version = typeof __ARDEN_MCP_VERSION__ === 'string' ? __ARDEN_MCP_VERSION__ : '0.0.0';

/** Where the command line writes. */
export interface McpCliIo {
  /** The gateway's MCP channel out (and help text). */
  stdout: Writable;
  /** Diagnostics. */
  stderr: Writable;
  /** The gateway's MCP channel in. Default: `process.stdin`. */
  stdin?: Readable;
}

const usage = `Usage: arden mcp run --name NAME [options] -- COMMAND [ARGS…]
       arden mcp install --client CLIENT [--project|--local|--user] [--with-key] [--dry-run]
       arden mcp uninstall --client CLIENT [--project|--local|--user] [--dry-run]

install rewrites an MCP client's configuration so that each of its stdio servers runs behind
this gateway (a backup is kept beside it, the diff printed); uninstall takes them out again.
CLIENT: ${clientNames.join(', ')}. --with-key also writes ARDEN_API_KEY into each server's env
(ARDEN_API_URL is written when set). For claude-code, without a scope both the project's
.mcp.json and this folder's local servers in ~/.claude.json (claude mcp add's default) are
rewritten; --local only the latter. Servers the client loads from a scope left alone that do not
run behind the gateway are listed as a warning.

Runs the MCP server COMMAND behind Arden: an MCP server on this process's stdin/stdout that
relays everything to COMMAND unchanged, except that each tools/call is checked by Arden first
(as mcp.NAME.<tool>) with the agent key in ARDEN_API_KEY, on the server in ARDEN_API_URL.

Options:
  --name NAME                 the MCP server's name in Arden (letters, digits, _ and -)
  --on-unavailable block|allow  when Arden cannot be reached: refuse calls (default) or run them unchecked
  --upstream-timeout SECONDS  answer a request the server has not answered in time with an error (default: none)
  --max-message-bytes N       the longest message relayed either way (default 16777216)
  --progress-interval SECONDS how often a held call sends progress (default 10)
  --show-blocked-tools        keep in tools/list the tools a policy blocks for every call
  --session ID                the Arden session of this run's calls (default: ARDEN_SESSION_ID, else a new id per run)
                              (default: left out; calling one is refused either way)

Exit codes: 0 ok, 1 failed, 2 wrong usage. Docs: docs/integrations/mcp.md.
`;

/** Runs `arden mcp` with `argv` (after `mcp`); resolves with the exit code. */
export async function runMcpCli(argv: string[], io: McpCliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(usage);
    return command === undefined ? 2 : 0;
  }
  if (command === 'install' || command === 'uninstall') return installCommand(command, rest, io);
  if (command !== 'run') {
    io.stderr.write(
      `Unknown command "mcp ${command}". Commands: run, install, uninstall. See \`arden mcp --help\`.\n`,
    );
    return 2;
  }
  let parsed: RunArguments;
  try {
    parsed = parseRunArguments(rest);
  } catch (error) {
    io.stderr.write(`error: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (parsed.help) {
    io.stdout.write(usage);
    return 0;
  }
  let gateway: McpGateway;
  try {
    const arden = createArden({
      onUnavailable: parsed.onUnavailable,
      logger: stderrLogger(io.stderr),
    });
    gateway = new McpGateway({
      name: parsed.name,
      command: parsed.command,
      args: parsed.args,
      arden,
      upstreamTimeoutMs: parsed.upstreamTimeoutMs,
      maxMessageBytes: parsed.maxMessageBytes,
      progressIntervalMs: parsed.progressIntervalMs,
      showBlockedTools: parsed.showBlockedTools,
      sessionId: parsed.sessionId,
      input: io.stdin ?? process.stdin,
      output: io.stdout,
      diagnostics: io.stderr,
    });
  } catch (error) {
    io.stderr.write(`error: ${(error as Error).message}\n`);
    return ConfigurationError.isInstance(error) || error instanceof TypeError ? 2 : 1;
  }
  return gateway.run();
}

interface RunArguments {
  help: boolean;
  name: string;
  onUnavailable: UnavailableBehaviour;
  upstreamTimeoutMs: number | undefined;
  maxMessageBytes: number | undefined;
  progressIntervalMs: number | undefined;
  showBlockedTools: boolean;
  /** The Arden session of the run's calls; undefined: a new one per run. */
  sessionId: string | undefined;
  command: string;
  args: string[];
}

/** Parses `run`'s options; throws an Error whose message says what is wrong. */
export function parseRunArguments(
  argv: string[],
  environment: Record<string, string | undefined> = process.env,
): RunArguments {
  const known = [
    '--name',
    '--on-unavailable',
    '--upstream-timeout',
    '--max-message-bytes',
    '--progress-interval',
    '--session',
  ];
  const values = new Map<string, string>();
  let upstream: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const option = argv[index] as string;
    if (option === '--') {
      upstream = argv.slice(index + 1);
      break;
    }
    if (option === '--help' || option === '-h') {
      return {
        help: true,
        name: '',
        onUnavailable: 'block',
        upstreamTimeoutMs: undefined,
        maxMessageBytes: undefined,
        progressIntervalMs: undefined,
        showBlockedTools: false,
        sessionId: undefined,
        command: '',
        args: [],
      };
    }
    if (option === '--show-blocked-tools') {
      values.set(option, 'true');
      continue;
    }
    if (!option.startsWith('-')) {
      // The server's command, without `--` before it (as tools that drop the separator pass it).
      upstream = argv.slice(index);
      break;
    }
    const [flag, inline] = option.includes('=')
      ? [option.slice(0, option.indexOf('=')), option.slice(option.indexOf('=') + 1)]
      : [option, undefined];
    if (!known.includes(flag)) {
      throw new Error(`unknown option ${flag} (the server's own options go after --)`);
    }
    const value = inline ?? argv[++index];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    values.set(flag, value);
  }
  const name = values.get('--name');
  if (!name) throw new Error("--name is required: the MCP server's name in Arden");
  const onUnavailable = values.get('--on-unavailable') ?? 'block';
  if (onUnavailable !== 'block' && onUnavailable !== 'allow') {
    throw new Error(`--on-unavailable must be block or allow; got ${onUnavailable}`);
  }
  const [command, ...args] = upstream;
  if (!command)
    throw new Error(
      'the MCP server command goes after --, e.g. -- npx -y @modelcontextprotocol/server-filesystem /tmp',
    );
  // The session: --session, else ARDEN_SESSION_ID (so a launcher can name the run), else the
  // gateway makes one per run.
  const sessionId = values.get('--session') ?? (environment.ARDEN_SESSION_ID || undefined);
  if (sessionId !== undefined && (sessionId.length === 0 || sessionId.length > 256)) {
    throw new Error(
      `--session (or ARDEN_SESSION_ID) must be 1 to 256 characters; got ${sessionId.length}`,
    );
  }
  const number = (flag: string, scale: number): number | undefined => {
    const text = values.get(flag);
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`${flag} must be a positive number; got ${text}`);
    return Math.round(value * scale);
  };
  return {
    help: false,
    name,
    onUnavailable,
    upstreamTimeoutMs: number('--upstream-timeout', 1000),
    maxMessageBytes: number('--max-message-bytes', 1),
    progressIntervalMs: number('--progress-interval', 1000),
    showBlockedTools: values.has('--show-blocked-tools'),
    sessionId,
    command,
    args,
  };
}

const levels: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** A logger that writes to stderr: stdout carries the MCP protocol and must hold nothing else. */
export function stderrLogger(stderr: Writable, level?: LogLevel): Logger {
  const threshold =
    levels[level ?? (process.env.ARDEN_LOG_LEVEL as LogLevel | undefined) ?? 'warn'] ?? levels.warn;
  const write =
    (at: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
      if (levels[at] < threshold) return;
      stderr.write(`[arden] ${at}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** `install` and `uninstall`. */
function installCommand(command: 'install' | 'uninstall', argv: string[], io: McpCliIo): number {
  let client: ClientName | undefined;
  let scope: Scope | undefined;
  let withKey = false;
  let dryRun = false;
  for (let index = 0; index < argv.length; index++) {
    const option = argv[index] as string;
    if (option === '--client') client = argv[++index] as ClientName;
    else if (option.startsWith('--client=')) client = option.slice(9) as ClientName;
    else if (option === '--project' || option === '--user' || option === '--local')
      scope = option.slice(2) as Scope;
    else if (option === '--with-key' && command === 'install') withKey = true;
    else if (option === '--dry-run') dryRun = true;
    else if (option === '--help' || option === '-h') {
      io.stdout.write(usage);
      return 0;
    } else {
      io.stderr.write(`error: unknown option ${option}\n\n${usage}`);
      return 2;
    }
  }
  if (!client || !(clientNames as readonly string[]).includes(client)) {
    io.stderr.write(`error: --client must be one of ${clientNames.join(', ')}\n`);
    return 2;
  }
  const where = {
    home: homedir(),
    cwd: process.cwd(),
    platform: process.platform,
    env: process.env,
  };
  const gateway = defaultGatewayCommand(version);
  let status = 0;
  let scopes: Scope[];
  try {
    scopes = scopesToRewrite(client, scope, where);
  } catch (error) {
    io.stderr.write(`error: ${(error as Error).message}\n`);
    return 1;
  }
  for (const each of scopes) {
    let report: InstallReport;
    try {
      report =
        command === 'install'
          ? installGateway({ client, scope: each, where, gateway, withKey, dryRun })
          : uninstallGateway({ client, scope: each, where, dryRun });
    } catch (error) {
      io.stderr.write(`error: ${(error as Error).message}\n`);
      status = 1;
      continue;
    }
    io.stdout.write(describeReport(command, report, dryRun));
  }
  if (command === 'install') {
    for (const { config, names, folder } of uncheckedElsewhere(client, scopes, where, gateway)) {
      io.stderr.write(
        folder === undefined
          ? `warning: ${client} also starts ${names.join(', ')} from its ${config.scope} configuration (${config.path}), not behind the gateway: Arden does not check their calls. Run \`arden mcp install --client ${client} --${config.scope}\` too.\n`
          : `warning: ${client} may also start ${names.join(', ')} from the ${config.scope} configuration of the parent folder ${folder} (${config.path}), not behind the gateway: Arden does not check their calls. Run \`arden mcp install --client ${client} --${config.scope}\` in ${folder} too.\n`,
      );
    }
  }
  return status;
}

function describeReport(
  command: 'install' | 'uninstall',
  report: InstallReport,
  dryRun: boolean,
): string {
  const lines = [`${report.config.client} (${report.config.scope}): ${report.config.path}`];
  for (const { name, reason } of report.skipped) lines.push(`  left as it is: ${name} — ${reason}`);
  if (report.changed.length === 0) {
    lines.push(
      command === 'install'
        ? '  nothing to put behind the gateway.'
        : '  no server runs behind the gateway.',
    );
    return `${lines.join('\n')}\n`;
  }
  const verb =
    command === 'install' ? 'behind the Arden gateway' : 'taken out from behind the gateway';
  lines.push(`  ${dryRun ? 'would be ' : ''}${verb}: ${report.changed.join(', ')}`);
  if (report.backup)
    lines.push(
      `  ${command === 'install' ? 'backup of the original' : 'restored from'}: ${report.backup}`,
    );
  if (command === 'install' && !dryRun) {
    lines.push(
      "  the gateway needs ARDEN_API_KEY (and ARDEN_API_URL) in the client's environment or in each server's env.",
    );
    lines.push('  restart the client to apply; `arden mcp uninstall` undoes this.');
    if (report.config.client === 'codex' && report.config.scope === 'project') {
      lines.push(
        `  Codex reads a project's .codex/config.toml only once the project is trusted (Codex asks when it starts in it; or set trust_level = "trusted" under [projects."<this folder>"] in ~/.codex/config.toml).`,
      );
    }
  }
  return `${lines.join('\n')}\n\n${report.diff}`;
}
