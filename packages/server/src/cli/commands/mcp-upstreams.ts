import { parse, positional, text } from '../args';
import { clientFor, connectionOptions } from '../client';
import { type CliIo, table, UsageError } from '../io';

const help = `Usage:
  arden mcp upstreams list
  arden mcp upstreams add NAME URL [--bearer-env VAR] [--header-env 'Header-Name=VAR' …]
                                   [--show-blocked-tools]
  arden mcp upstreams set NAME --show-blocked-tools | --hide-blocked-tools
  arden mcp upstreams remove NAME

Registers a remote MCP server (Streamable HTTP) that agents reach through the Arden server at
/mcp/NAME with their agent key; every tools/call is checked as mcp.NAME.<tool>.
Credentials are read from environment variables, never from flags (they would stay in shell
history): --bearer-env VAR sends "Authorization: Bearer $VAR", --header-env 'X-Api-Key=VAR'
sends the header X-Api-Key with the value of $VAR. The URL and the headers are stored encrypted
and never shown again.
tools/list leaves out the tools a policy blocks for every call of the agent, so the model does
not plan with them; --show-blocked-tools keeps them (they stay blocked when called). \`set\`
changes that for sessions opened afterwards.
Talks to a running server: --url (ARDEN_URL) and --token (ARDEN_ADMIN_TOKEN); --json for JSON.
`;

/** `arden mcp upstreams …`: the remote MCP servers of the server's HTTP gateway. */
export async function mcpUpstreamsCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(
    argv,
    {
      ...connectionOptions,
      'bearer-env': { type: 'string' },
      'header-env': { type: 'string', multiple: true },
      'show-blocked-tools': { type: 'boolean' },
      'hide-blocked-tools': { type: 'boolean' },
    },
    'mcp upstreams',
  );
  const sub = parsed.positionals[0];
  if (parsed.values.help || sub === undefined || sub === 'help') {
    io.stdout(help);
    return sub === undefined && !parsed.values.help ? 2 : 0;
  }
  const client = clientFor(io, { url: text(parsed, 'url'), token: text(parsed, 'token') });
  const json = parsed.values.json === true;
  const print = (value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  const fromEnv = (variable: string, what: string): string => {
    const value = io.env[variable];
    if (!value) throw new UsageError(`Set ${variable} (${what} is read from the environment).`);
    return value;
  };
  switch (sub) {
    case 'list': {
      const list = await client.request('GET', '/api/v1/mcp/http-upstreams');
      if (json) print(list);
      else if (list.items.length === 0) {
        io.stdout('No MCP HTTP upstreams yet: arden mcp upstreams add NAME URL\n');
      } else {
        io.stdout(
          table([
            ['NAME', 'ENDPOINT', 'UPSTREAM', 'HEADERS', 'BLOCKED TOOLS'],
            ...list.items.map((item: any) => [
              item.name,
              item.endpoint,
              item.origin,
              item.header_names.join(', ') || '-',
              item.show_blocked_tools ? 'shown' : 'hidden',
            ]),
          ]),
        );
      }
      return 0;
    }
    case 'add': {
      const name = positional(parsed, 1, 'the upstream name', 'mcp upstreams add');
      const url = positional(parsed, 2, 'the upstream URL', 'mcp upstreams add');
      const headers: Record<string, string> = {};
      for (const entry of (parsed.values['header-env'] as string[] | undefined) ?? []) {
        const equals = entry.indexOf('=');
        if (equals <= 0) {
          throw new UsageError(
            `--header-env takes Header-Name=VARIABLE (got ${JSON.stringify(entry)}).`,
          );
        }
        const header = entry.slice(0, equals);
        headers[header] = fromEnv(entry.slice(equals + 1), `the value of ${header}`);
      }
      const bearerVariable = text(parsed, 'bearer-env');
      const created = await client.request('POST', '/api/v1/mcp/http-upstreams', {
        name,
        url,
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
        ...(bearerVariable ? { bearer_token: fromEnv(bearerVariable, 'the bearer token') } : {}),
        ...(parsed.values['show-blocked-tools'] === true ? { show_blocked_tools: true } : {}),
      });
      if (json) print(created);
      else {
        io.stdout(
          `Registered ${created.name} (${created.origin}). MCP clients connect to <server>${created.endpoint} with an agent key; its tools are checked as mcp.${created.name}.<tool>.\n`,
        );
      }
      return 0;
    }
    case 'set': {
      const name = positional(parsed, 1, 'the upstream name', 'mcp upstreams set');
      const show = parsed.values['show-blocked-tools'] === true;
      const hide = parsed.values['hide-blocked-tools'] === true;
      if (show === hide) {
        throw new UsageError(
          'arden mcp upstreams set needs one of --show-blocked-tools or --hide-blocked-tools.',
        );
      }
      const updated = await client.request(
        'PATCH',
        `/api/v1/mcp/http-upstreams/${encodeURIComponent(name)}`,
        { show_blocked_tools: show },
      );
      if (json) print(updated);
      else {
        io.stdout(
          `${updated.name}: tools/list ${show ? 'keeps' : 'leaves out'} the tools a policy always blocks, in sessions opened from now on.\n`,
        );
      }
      return 0;
    }
    case 'remove': {
      const name = positional(parsed, 1, 'the upstream name', 'mcp upstreams remove');
      await client.request('DELETE', `/api/v1/mcp/http-upstreams/${encodeURIComponent(name)}`);
      if (json) print({ ok: true });
      else io.stdout(`Removed ${name}; its open sessions ended.\n`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown subcommand mcp upstreams ${sub}: list, add, set or remove.`);
  }
}
