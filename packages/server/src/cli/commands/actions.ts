import { parse, positional, text } from '../args';
import { clientFor, connectionOptions } from '../client';
import { CliError, type CliIo, exitCodes, table, UsageError } from '../io';

const help = `Usage:
  arden actions reveal ACTION_ID [--reason TEXT] [--json]
  arden actions reads ACTION_ID [--json]

A policy's redact paths (sensitive arguments) are stored encrypted and shown as "[redacted]"
everywhere. reveal prints an action's arguments in full — the JSON text the agent sent, byte for
byte — for an admin's token only; the server logs the read (who, when, --reason) before it
answers. reads lists who read them in full, oldest first (any role).
Talks to a running server: --url (ARDEN_URL) and --token (ARDEN_ADMIN_TOKEN); --json for JSON.
`;

/** `arden actions …` */
export async function actionsCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(argv, { ...connectionOptions, reason: { type: 'string' } }, 'actions');
  const sub = parsed.positionals[0];
  if (parsed.values.help || sub === undefined || sub === 'help') {
    io.stdout(help);
    return sub === undefined && !parsed.values.help ? exitCodes.usage : exitCodes.ok;
  }
  if (sub !== 'reveal' && sub !== 'reads') {
    throw new UsageError(`Unknown command \`arden actions ${sub}\`. See \`arden actions --help\`.`);
  }
  const id = positional(parsed, 1, 'the action id (see the dashboard)', `actions ${sub}`);
  const client = clientFor(io, { url: text(parsed, 'url'), token: text(parsed, 'token') });
  const json = parsed.values.json === true;
  const base = `/api/v1/actions/${encodeURIComponent(id)}/sensitive`;

  if (sub === 'reads') {
    const reads = await client.request('GET', `${base}/reads`);
    if (json) {
      io.stdout(`${JSON.stringify(reads, null, 2)}\n`);
    } else if (reads.items.length === 0) {
      io.stdout(`Nobody has read the sensitive arguments of ${id} in full.\n`);
    } else {
      io.stdout(
        table([
          ['READ AT', 'WHO', 'REASON'],
          ...reads.items.map((read: any) => [
            read.read_at,
            read.user_email ?? read.user_id ?? 'webhook delivery',
            read.reason ?? '-',
          ]),
        ]),
      );
    }
    return exitCodes.ok;
  }

  const reason = text(parsed, 'reason');
  if (reason !== undefined && reason.length > 500) {
    throw new UsageError('--reason is at most 500 characters.');
  }
  let revealed: any;
  try {
    revealed = await client.request('POST', `${base}/reveal`, reason ? { reason } : {});
  } catch (error) {
    if (error instanceof CliError && (error as { status?: number }).status === 403) {
      throw new CliError(
        `${error.message}\nOnly an admin can read sensitive arguments in full: this token is not an admin's. Use an admin's token (\`arden tokens create --email ADMIN\` on the server machine).`,
      );
    }
    throw error;
  }
  if (json) {
    // The JSON texts as strings: their bytes are kept (a 20-digit integer is not rounded).
    io.stdout(`${JSON.stringify(revealed, null, 2)}\n`);
  } else {
    io.stdout(
      `args: ${revealed.args_json}\nkwargs: ${revealed.kwargs_json}\n` +
        `sensitive paths: ${revealed.paths.join(', ')}\n`,
    );
    io.stderr(
      `This read was logged at ${revealed.read_at}${reason ? ` (reason: ${reason})` : ''}; see \`arden actions reads ${id}\`.\n`,
    );
  }
  return exitCodes.ok;
}
