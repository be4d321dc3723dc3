import { isEffect } from '@arden/policy';
import { environmentOption, type Parsed, parse, positional, text } from '../args';
import { clientFor, connectionOptions } from '../client';
import { type CliIo, table, UsageError } from '../io';

const help = `Usage:
  arden agents create NAME [--default-action allow|block|requires_approval] [--webhook-url URL]
                           [--description TEXT] [--keys test,live | --no-keys]
  arden agents list
  arden agents get NAME
  arden agents update NAME [--default-action …] [--webhook-url URL|none] [--description TEXT]
                           [--owner EMAIL|none] [--webhook-sensitive masked|full]
  arden agents keys list NAME [--all]
  arden agents keys create NAME [--env test|live] [--name LABEL]
  arden agents keys rotate NAME KEY
  arden agents keys revoke NAME KEY
  arden agents signing-key rotate NAME

--owner names the user who owns the agent (a policy's exclude_owner keeps them from
approving its calls). --webhook-sensitive full lets the agent's webhooks carry sensitive argument
values (a policy's redact) in full; each such delivery is logged. masked (the default) hides them.

NAME is the agent's name or id; KEY is a key id or the prefix shown by \`keys list\`.
Keys and signing keys are shown once, when created or rotated.

Every command talks to a running server: --url (ARDEN_URL, default http://127.0.0.1:8787)
and --token (ARDEN_ADMIN_TOKEN). --json prints the server's answer as JSON.
`;

const options = {
  ...connectionOptions,
  'default-action': { type: 'string' },
  'webhook-url': { type: 'string' },
  owner: { type: 'string' },
  'webhook-sensitive': { type: 'string' },
  description: { type: 'string' },
  keys: { type: 'string' },
  'no-keys': { type: 'boolean' },
  env: { type: 'string' },
  name: { type: 'string' },
  all: { type: 'boolean' },
} as const;

function effect(parsed: Parsed): string | undefined {
  const value = text(parsed, 'default-action');
  if (value !== undefined && !isEffect(value)) {
    throw new UsageError(
      `--default-action must be allow, block or requires_approval; got "${value}".`,
    );
  }
  return value;
}

function sensitiveInWebhooks(parsed: Parsed): boolean | undefined {
  const value = text(parsed, 'webhook-sensitive');
  if (value === undefined) return undefined;
  if (value !== 'masked' && value !== 'full') {
    throw new UsageError(`--webhook-sensitive must be masked or full; got "${value}".`);
  }
  return value === 'full';
}

function describeAgent(agent: {
  owner_user_id?: string | null;
  webhook_sensitive_in_full?: boolean;
}): string {
  return `  owner:          ${agent.owner_user_id ?? '(none)'}\n  sensitive args in webhooks: ${agent.webhook_sensitive_in_full ? 'in full (logged)' : 'masked'}\n`;
}

function printKey(
  io: CliIo,
  created: { key: string; api_key: { environment: string; id: string } },
) {
  io.stdout(
    `\nAPI key for ${created.api_key.environment} (id ${created.api_key.id}; shown once — set it as ARDEN_API_KEY in the agent):\n  ${created.key}\n`,
  );
}

async function keyIdOf(
  client: ReturnType<typeof clientFor>,
  agent: string,
  key: string,
): Promise<string> {
  const keys = await client.request<{ items: { id: string; prefix: string }[] }>(
    'GET',
    `/api/v1/agents/${encodeURIComponent(agent)}/keys`,
  );
  const stripped = key.replace(/…$/, '');
  const matches = keys.items.filter(
    (item) =>
      item.id === key ||
      item.prefix.replace(/…$/, '').startsWith(stripped) ||
      stripped.startsWith(item.prefix.replace(/…$/, '')),
  );
  if (matches.length === 1) return (matches[0] as { id: string }).id;
  throw new UsageError(
    matches.length === 0
      ? `Agent ${agent} has no active key "${key}". List them with \`arden agents keys list ${agent}\`.`
      : `"${key}" matches ${matches.length} keys of ${agent}; give the key id instead.`,
  );
}

/** `arden agents …` */
export async function agentsCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(argv, options, 'agents');
  const [sub, subsub] = parsed.positionals;
  if (parsed.values.help || sub === undefined || sub === 'help') {
    io.stdout(help);
    return sub === undefined && !parsed.values.help ? 2 : 0;
  }
  const client = clientFor(io, { url: text(parsed, 'url'), token: text(parsed, 'token') });
  const json = parsed.values.json === true;
  const print = (value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);

  if (sub === 'create') {
    const name = positional(
      parsed,
      1,
      'the agent name (arden agents create NAME)',
      'agents create',
    );
    const keys =
      parsed.values['no-keys'] === true
        ? []
        : (text(parsed, 'keys') ?? 'test')
            .split(',')
            .map((item) => item.trim())
            .filter((item) => item !== '');
    for (const key of keys) {
      if (key !== 'test' && key !== 'live') {
        throw new UsageError(`--keys takes test, live or test,live; got "${key}".`);
      }
    }
    const webhook = text(parsed, 'webhook-url');
    const created = await client.request('POST', '/api/v1/agents', {
      name,
      default_action: effect(parsed),
      webhook_url: webhook === undefined || webhook === 'none' ? undefined : webhook,
      description: text(parsed, 'description'),
      create_keys: keys,
    });
    if (json) {
      print(created);
      return 0;
    }
    const agent = created.agent;
    io.stdout(
      `Created agent ${agent.name} (id ${agent.id})\n  default action: ${agent.default_action}\n  webhook URL:    ${agent.webhook_url ?? '(none)'}\n`,
    );
    io.stdout(
      `\nWebhook signing key (shown once — give it to your webhook receiver; rotate it with \`arden agents signing-key rotate ${agent.name}\`):\n  ${created.signing_key}\n`,
    );
    for (const key of created.keys) printKey(io, key);
    return 0;
  }

  if (sub === 'list') {
    const agents = await client.request('GET', '/api/v1/agents');
    if (json) {
      print(agents);
      return 0;
    }
    if (agents.items.length === 0) {
      io.stdout('No agents yet. Create one with `arden agents create NAME`.\n');
      return 0;
    }
    io.stdout(
      table([
        ['NAME', 'ID', 'DEFAULT', 'WEBHOOK'],
        ...agents.items.map((agent: any) => [
          agent.name,
          agent.id,
          agent.default_action,
          agent.webhook_url ?? '-',
        ]),
      ]),
    );
    return 0;
  }

  if (sub === 'get') {
    const name = positional(parsed, 1, 'the agent name', 'agents get');
    const agent = await client.request('GET', `/api/v1/agents/${encodeURIComponent(name)}`);
    if (json) {
      print(agent);
      return 0;
    }
    io.stdout(
      `${agent.name} (id ${agent.id})\n  description:    ${agent.description ?? '-'}\n  default action: ${agent.default_action}\n  webhook URL:    ${agent.webhook_url ?? '(none)'}\n  signing key:    ${agent.signing_key_prefix}\n${describeAgent(agent)}  keys:\n`,
    );
    for (const key of agent.keys) {
      io.stdout(`    ${key.environment.padEnd(5)} ${key.prefix}  id ${key.id}\n`);
    }
    return 0;
  }

  if (sub === 'update') {
    const name = positional(parsed, 1, 'the agent name', 'agents update');
    const webhook = text(parsed, 'webhook-url');
    const owner = text(parsed, 'owner');
    const patch = {
      default_action: effect(parsed),
      webhook_url: webhook === undefined ? undefined : webhook === 'none' ? null : webhook,
      description: text(parsed, 'description'),
      owner: owner === undefined ? undefined : owner === 'none' ? null : owner,
      webhook_sensitive_in_full: sensitiveInWebhooks(parsed),
    };
    if (Object.values(patch).every((value) => value === undefined)) {
      throw new UsageError(
        'Nothing to change: pass --default-action, --webhook-url, --description, --owner or --webhook-sensitive.',
      );
    }
    const agent = await client.request(
      'PATCH',
      `/api/v1/agents/${encodeURIComponent(name)}`,
      patch,
    );
    if (json) print(agent);
    else
      io.stdout(
        `Updated ${agent.name}: default action ${agent.default_action}, webhook ${agent.webhook_url ?? '(none)'}\n${describeAgent(agent)}`,
      );
    return 0;
  }

  if (sub === 'signing-key') {
    if (subsub !== 'rotate') throw new UsageError('Use `arden agents signing-key rotate NAME`.');
    const name = positional(parsed, 2, 'the agent name', 'agents signing-key rotate');
    const rotated = await client.request(
      'POST',
      `/api/v1/agents/${encodeURIComponent(name)}/signing-key/rotate`,
    );
    if (json) print(rotated);
    else
      io.stdout(
        `New webhook signing key of ${rotated.agent.name} (shown once; the old one no longer signs):\n  ${rotated.signing_key}\n`,
      );
    return 0;
  }

  if (sub === 'keys') {
    const action = subsub;
    const agent = positional(parsed, 2, 'the agent name', `agents keys ${action ?? ''}`.trim());
    const base = `/api/v1/agents/${encodeURIComponent(agent)}/keys`;
    if (action === 'list') {
      const keys = await client.request(
        'GET',
        `${base}${parsed.values.all ? '?include_revoked=true' : ''}`,
      );
      if (json) {
        print(keys);
        return 0;
      }
      io.stdout(
        table([
          ['ENV', 'PREFIX', 'ID', 'CREATED', 'LAST USED', 'REVOKED'],
          ...keys.items.map((key: any) => [
            key.environment,
            key.prefix,
            key.id,
            key.created_at,
            key.last_used_at ?? '-',
            key.revoked_at ?? '-',
          ]),
        ]),
      );
      return 0;
    }
    if (action === 'create') {
      const created = await client.request('POST', base, {
        environment: environmentOption(parsed, 'test'),
        name: text(parsed, 'name'),
      });
      if (json) print(created);
      else printKey(io, created);
      return 0;
    }
    if (action === 'rotate' || action === 'revoke') {
      const key = positional(parsed, 3, 'the key id or prefix', `agents keys ${action}`);
      const id = await keyIdOf(client, agent, key);
      const result = await client.request('POST', `${base}/${encodeURIComponent(id)}/${action}`);
      if (json) print(result);
      else if (action === 'rotate') {
        io.stdout(`Revoked key ${id}.\n`);
        printKey(io, result);
      } else io.stdout(`Revoked key ${id} (${result.prefix}); it stops working at once.\n`);
      return 0;
    }
    throw new UsageError('Use `arden agents keys list|create|rotate|revoke NAME …`.');
  }
  throw new UsageError(`Unknown command \`arden agents ${sub}\`. See \`arden agents --help\`.`);
}
