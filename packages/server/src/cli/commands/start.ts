import { resolve } from 'node:path';
import { findDashboard } from '../../admin/static';
import { defaultCheckBodyLimit, defaultCheckValueLimit } from '../../config';
import { isLogLevel } from '../../logger';
import { describeRetention } from '../../retention/service';
import { type ArdenServer, createServer } from '../../server';
import { redactUrl, sqlitePath } from '../../store';
import { withoutFinalStop } from '../../text';
import { UserAdministration } from '../../users/service';
import { parse, text } from '../args';
import { type DemoLoop, demoAgentName, seedDemo, startDemoLoop } from '../demo';
import { CliError, type CliIo, UsageError } from '../io';

const help = `Usage: arden start [--port N] [--host HOST] [--data-dir DIR] [--db URL] [--demo]
                   [--log-level debug|info|warn|error|silent] [--dashboard-dir DIR | --no-dashboard]
                   [--retention-days N]

Starts the Arden server: the agent API, the admin API and the dashboard, on the embedded
SQLite store (created and migrated on first start).

  --port N          port (ARDEN_PORT, PORT; default 8787; 0 picks a free one)
  --host HOST       interface (ARDEN_HOST; default 127.0.0.1; 0.0.0.0 for every interface)
  --data-dir DIR    where the embedded store lives (ARDEN_DATA_DIR; default ./.arden)
  --db URL          a database URL instead (DATABASE_URL)
  --demo            also run a demo agent whose calls show up live (one held for approval)
  --dashboard-dir   serve the dashboard from DIR (ARDEN_DASHBOARD_DIR)
  --retention-days N  delete actions, usage, settled webhook deliveries and channel messages
                    older than N days (ARDEN_RETENTION_DAYS; default 0: everything is kept,
                    nothing is deleted)

A tool-call check (POST /policy/check, which the Claude Code hooks and MCP gateways use too)
may hold at most ${defaultCheckBodyLimit / 1024} KiB (ARDEN_CHECK_BODY_LIMIT) and ${defaultCheckValueLimit} JSON values (ARDEN_CHECK_VALUE_LIMIT;
every number, string, boolean, null, list and object counts one). A larger check is refused
with a 413 and the call does not run; above the defaults a check may hold the server > 10 ms.

Webhooks are never sent to private, loopback, link-local or cloud-metadata addresses (SSRF
protection) unless ARDEN_WEBHOOK_ALLOW_PRIVATE=1 or ARDEN_WEBHOOK_ALLOWED_HOSTS lists them. With
--demo on this machine only (the default --host 127.0.0.1), private addresses are allowed so a
receiver on localhost works; set ARDEN_WEBHOOK_ALLOW_PRIVATE=0 to keep refusing them.

On first start an admin user is created: ARDEN_ADMIN_EMAIL and ARDEN_ADMIN_PASSWORD when set,
else admin@localhost with a one-time password printed here once.
`;

const options = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  db: { type: 'string' },
  demo: { type: 'boolean' },
  'demo-interval': { type: 'string' },
  'log-level': { type: 'string' },
  'dashboard-dir': { type: 'string' },
  'no-dashboard': { type: 'boolean' },
  'retention-days': { type: 'string' },
} as const;

/** The help, ending with what retention the environment sets now. */
function helpText(env: CliIo['env']): string {
  const days = env.ARDEN_RETENTION_DAYS;
  const current =
    days === undefined || days === ''
      ? `Retention now: ${describeRetention(0)}.`
      : /^\d+(\.\d+)?$/.test(days)
        ? `Retention now (ARDEN_RETENTION_DAYS=${days}): ${describeRetention(Number(days))}.`
        : `Retention now: ARDEN_RETENTION_DAYS=${JSON.stringify(days)} is not a number of days; the server refuses to start with it.`;
  return `${help}\n${current}\n`;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    const handler = (signal: NodeJS.Signals) => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      // A second Ctrl+C while shutting down stops at once.
      process.once('SIGINT', () => process.exit(130));
      resolveSignal(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): CliError {
  if (error.code === 'EADDRINUSE') {
    return new CliError(
      `Port ${port} on ${host} is already in use (is another Arden running?). Stop that process, or choose another port: arden start --port ${port + 1} (or ARDEN_PORT).`,
    );
  }
  if (error.code === 'EACCES') {
    return new CliError(
      `Not allowed to listen on port ${port} of ${host}. Use a port above 1024: arden start --port 8787.`,
    );
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new CliError(
      `This machine has no address ${host}. Use --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface).`,
    );
  }
  return new CliError(`Cannot listen on ${host}:${port}: ${withoutFinalStop(error.message)}.`);
}

/** `arden start` */
export async function startCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(argv, options, 'start');
  if (parsed.values.help) {
    io.stdout(helpText(io.env));
    return 0;
  }
  if (parsed.positionals.length > 0) {
    throw new UsageError(
      `arden start takes no arguments; got "${parsed.positionals[0]}". See \`arden start --help\`.`,
    );
  }
  const portText = text(parsed, 'port');
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new UsageError(`--port must be a whole number from 0 to 65535; got "${portText}".`);
  }
  const demo = parsed.values.demo === true;
  const logLevel =
    text(parsed, 'log-level') ?? (io.env.ARDEN_LOG_LEVEL || (demo ? 'warn' : 'info'));
  if (!isLogLevel(logLevel)) {
    throw new UsageError(
      `--log-level must be debug, info, warn, error or silent; got "${logLevel}".`,
    );
  }
  const retentionText = text(parsed, 'retention-days');
  const retentionDays = retentionText === undefined ? undefined : Number(retentionText);
  if (
    retentionDays !== undefined &&
    (retentionText?.trim() === '' || !Number.isFinite(retentionDays) || retentionDays < 0)
  ) {
    throw new UsageError(
      `--retention-days must be a number of days ≥ 0 (0 keeps everything); got "${retentionText}".`,
    );
  }
  const dataDir = resolve(
    io.cwd,
    text(parsed, 'data-dir') ?? (io.env.ARDEN_DATA_DIR || undefined) ?? '.arden',
  );
  const databaseUrl =
    text(parsed, 'db') ??
    (io.env.ARDEN_DATABASE_URL || undefined) ??
    (io.env.DATABASE_URL || undefined) ??
    undefined;
  const dashboardDir =
    parsed.values['no-dashboard'] === true
      ? false
      : (text(parsed, 'dashboard-dir') ?? (io.env.ARDEN_DASHBOARD_DIR || undefined) ?? undefined);
  const store = databaseUrl
    ? /^postgres/.test(databaseUrl)
      ? redactUrl(databaseUrl)
      : sqlitePath({ databaseUrl })
    : sqlitePath({ dataDir });

  const host = text(parsed, 'host') ?? (io.env.ARDEN_HOST || undefined) ?? '127.0.0.1';
  // The local demo may send webhooks to a receiver on this machine (loopback only, and only
  // when the operator did not decide otherwise).
  const demoAllowsPrivate =
    demo &&
    ['127.0.0.1', 'localhost', '::1'].includes(host) &&
    (io.env.ARDEN_WEBHOOK_ALLOW_PRIVATE ?? '') === '';

  io.stdout(`Starting Arden (store: ${store})…\n`);
  let server: ArdenServer;
  try {
    server = await createServer({
      port,
      host: text(parsed, 'host'),
      dataDir,
      databaseUrl,
      logLevel,
      ...(retentionDays !== undefined ? { retentionDays } : {}),
      ...(demoAllowsPrivate ? { webhooks: { allowPrivate: true } } : {}),
      admin: { dashboardDir: dashboardDir === undefined ? undefined : dashboardDir },
    });
  } catch (error) {
    throw new CliError(
      `Cannot start: ${(error as Error).message}${/ENOENT|EACCES|EROFS/.test(String((error as NodeJS.ErrnoException).code)) ? ' Check that --data-dir is writable.' : ''}`,
    );
  }

  let loop: DemoLoop | undefined;
  try {
    const firstAdmin = await new UserAdministration(server.store)
      .ensureFirstAdmin({ email: io.env.ARDEN_ADMIN_EMAIL, password: io.env.ARDEN_ADMIN_PASSWORD })
      .catch(async (error: unknown) => {
        // Replicas starting together race to create the first admin: one wins, the others
        // find it made.
        if ((await server.store.users.count().catch(() => 0)) > 0) {
          return {
            created: false as const,
            email: (io.env.ARDEN_ADMIN_EMAIL || 'admin@localhost').toLowerCase(),
          };
        }
        throw new UsageError(
          `Cannot create the first admin from ARDEN_ADMIN_EMAIL / ARDEN_ADMIN_PASSWORD: ${(error as Error).message} Fix the variables, or unset them to get admin@localhost with a generated password.`,
        );
      });
    let url: string;
    try {
      url = await server.listen();
    } catch (error) {
      throw listenError(error as NodeJS.ErrnoException, server.config.host, server.config.port);
    }
    const browserUrl = url.replace('//0.0.0.0:', '//localhost:').replace('//[::]:', '//localhost:');
    const dashboard = findDashboard(dashboardDir);
    const lines = [
      `Arden is running at ${browserUrl}`,
      `  Dashboard:  ${browserUrl}/${dashboard ? '' : '  (not built: that page says how to build it)'}`,
      `  Admin API:  ${browserUrl}/api/v1  (described at ${browserUrl}/api/openapi.json)`,
      `  Agent API:  ${browserUrl}  (set ARDEN_API_URL=${browserUrl} in your agent)`,
      `  Store:      ${store}`,
      `  Retention:  ${describeRetention(server.config.retention.days ?? 0)}`,
      '',
    ];
    if (firstAdmin.created && firstAdmin.generatedPassword) {
      lines.push(
        `First start: created the admin ${firstAdmin.email}. Its one-time password (shown only now):`,
        `  ${firstAdmin.generatedPassword}`,
        `For the CLI, create a token: arden tokens create --data-dir ${dataDir}`,
      );
    } else if (firstAdmin.created) {
      lines.push(
        `First start: created the admin ${firstAdmin.email} with the password in ARDEN_ADMIN_PASSWORD.`,
      );
    } else {
      lines.push(
        `Log in as an existing user (forgot the password? arden users reset-password --email ${firstAdmin.email} --data-dir ${dataDir}).`,
      );
    }
    if (demo) {
      const setup = await seedDemo(server, dataDir, browserUrl);
      const intervalMs = Number(text(parsed, 'demo-interval') ?? 3_000);
      lines.push(
        '',
        `Demo: the agent "${demoAgentName}" calls its tools every ${Math.round(intervalMs / 100) / 10} s; its calls appear in the dashboard's Actions.`,
        '  Refunds over 50 are held for approval — approve or deny them in Approvals.',
        `  Its test key is in ${setup.file}.`,
        demoAllowsPrivate
          ? '  Webhooks may go to this machine (http://localhost:…) for the demo; a deployment refuses private addresses unless ARDEN_WEBHOOK_ALLOW_PRIVATE=1 (docs/deploy.md).'
          : '  Webhooks to private addresses are refused (ARDEN_WEBHOOK_ALLOW_PRIVATE / ARDEN_WEBHOOK_ALLOWED_HOSTS allow them).',
      );
      io.stdout(`${lines.join('\n')}\nPress Ctrl+C to stop.\n\n`);
      loop = startDemoLoop({
        url: browserUrl,
        apiKey: setup.apiKey,
        intervalMs,
        print: (line) => io.stdout(`[demo ${new Date().toISOString().slice(11, 19)}] ${line}\n`),
      });
    } else {
      io.stdout(`${lines.join('\n')}\nPress Ctrl+C to stop.\n`);
    }
    const signal = await waitForSignal();
    io.stdout(
      `\n${signal === 'SIGINT' ? 'Ctrl+C' : signal}: stopping (finishing requests in flight)…\n`,
    );
  } finally {
    await loop?.stop().catch(() => undefined);
    await server.close();
  }
  io.stdout('Stopped.\n');
  return 0;
}
