import { parse, positional, text } from '../args';
import { clientFor, connectionOptions } from '../client';
import { type CliIo, table, UsageError } from '../io';

const help = `Usage:
  arden channels list
  arden channels create slack NAME [--channel '#approvals']
        (secrets from ARDEN_SLACK_BOT_TOKEN and ARDEN_SLACK_SIGNING_SECRET)
  arden channels create email NAME --host HOST --port PORT --from ADDRESS [--user USER] [--secure]
        [--digest-minutes N]  (the SMTP password from ARDEN_SMTP_PASSWORD; N: one digest every
        N minutes instead of an email per held call)
  arden channels create webhook NAME --endpoint URL  (its signing key is printed once)
  arden channels enable|disable|delete NAME
  arden channels defaults AGENT [TARGET…]        (show, or set, an agent's default targets)
  arden channels messages ACTION_ID              (an action's notifications and their attempts)
  arden channels resend MESSAGE_ID

Targets: slack:#channel, email:address, webhook:NAME (kind@CHANNEL:… picks one of several).
Secrets are read from the environment, never from flags (they would stay in shell history).
Talks to a running server: --url (ARDEN_URL) and --token (ARDEN_ADMIN_TOKEN); --json for JSON.
`;

function need(io: CliIo, name: string): string {
  const value = io.env[name];
  if (!value) throw new UsageError(`Set ${name} (the secret is read from the environment).`);
  return value;
}

/** `arden channels …` */
export async function channelsCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(
    argv,
    {
      ...connectionOptions,
      channel: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      from: { type: 'string' },
      user: { type: 'string' },
      secure: { type: 'boolean' },
      'digest-minutes': { type: 'string' },
      endpoint: { type: 'string' },
    },
    'channels',
  );
  const sub = parsed.positionals[0];
  if (parsed.values.help || sub === undefined || sub === 'help') {
    io.stdout(help);
    return sub === undefined && !parsed.values.help ? 2 : 0;
  }
  const client = clientFor(io, { url: text(parsed, 'url'), token: text(parsed, 'token') });
  const json = parsed.values.json === true;
  const print = (value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  switch (sub) {
    case 'list': {
      const list = await client.request('GET', '/api/v1/channels');
      if (json) print(list);
      else if (list.items.length === 0) io.stdout('No channels yet: arden channels create …\n');
      else
        io.stdout(
          table([
            ['NAME', 'KIND', 'ENABLED', 'STATE', 'LAST ERROR'],
            ...list.items.map((channel: any) => [
              channel.name,
              channel.kind,
              channel.enabled ? 'yes' : 'no',
              channel.failing ? `FAILING since ${channel.failing_since}` : 'ok',
              (channel.last_error ?? '-').slice(0, 60),
            ]),
          ]),
        );
      return 0;
    }
    case 'create': {
      const kind = positional(parsed, 1, 'the kind: slack, email or webhook', 'channels create');
      const name = positional(parsed, 2, 'the channel name', 'channels create');
      let body: Record<string, unknown>;
      if (kind === 'slack') {
        const channel = text(parsed, 'channel');
        body = {
          config: channel ? { channel } : {},
          secrets: {
            bot_token: need(io, 'ARDEN_SLACK_BOT_TOKEN'),
            signing_secret: need(io, 'ARDEN_SLACK_SIGNING_SECRET'),
          },
        };
      } else if (kind === 'email') {
        const password = io.env.ARDEN_SMTP_PASSWORD;
        body = {
          config: {
            host: text(parsed, 'host'),
            port: Number(text(parsed, 'port') ?? 587),
            from: text(parsed, 'from'),
            ...(text(parsed, 'user') ? { user: text(parsed, 'user') } : {}),
            ...(parsed.values.secure ? { secure: true } : {}),
            ...(text(parsed, 'digest-minutes')
              ? { digest_minutes: Number(text(parsed, 'digest-minutes')) }
              : {}),
          },
          secrets: password ? { password } : {},
        };
      } else if (kind === 'webhook') {
        body = { config: { url: text(parsed, 'endpoint') } };
      } else {
        throw new UsageError(`Unknown channel kind ${kind}: slack, email or webhook.`);
      }
      const created = await client.request('POST', '/api/v1/channels', { name, kind, ...body });
      if (json) print(created);
      else {
        io.stdout(`Created ${created.kind} channel ${created.name} (${created.id}).\n`);
        if (created.interactivity_url) {
          io.stdout(`Slack Interactivity Request URL: ${created.interactivity_url}\n`);
        }
        if (created.secrets?.signing_key) {
          io.stdout(
            `Signing key (shown once; the receiver verifies X-Arden-Signature with it): ${created.secrets.signing_key}\n`,
          );
        }
      }
      return 0;
    }
    case 'enable':
    case 'disable': {
      const name = positional(parsed, 1, 'the channel name', `channels ${sub}`);
      const changed = await client.request(
        'PATCH',
        `/api/v1/channels/${encodeURIComponent(name)}`,
        {
          enabled: sub === 'enable',
        },
      );
      if (json) print(changed);
      else io.stdout(`${changed.name} is ${changed.enabled ? 'enabled' : 'disabled'}.\n`);
      return 0;
    }
    case 'delete': {
      const name = positional(parsed, 1, 'the channel name', 'channels delete');
      await client.request('DELETE', `/api/v1/channels/${encodeURIComponent(name)}`);
      io.stdout(`Deleted channel ${name}.\n`);
      return 0;
    }
    case 'defaults': {
      const agent = positional(parsed, 1, 'the agent (name or id)', 'channels defaults');
      const targets = parsed.positionals.slice(2);
      const path = `/api/v1/agents/${encodeURIComponent(agent)}/channel-defaults`;
      const answer =
        targets.length > 0
          ? await client.request('PUT', path, { notify: targets })
          : await client.request('GET', path);
      if (json) print(answer);
      else io.stdout(`${answer.notify.length ? answer.notify.join('\n') : '(none)'}\n`);
      return 0;
    }
    case 'messages': {
      const id = positional(parsed, 1, 'the action id', 'channels messages');
      const list = await client.request(
        'GET',
        `/api/v1/actions/${encodeURIComponent(id)}/channel-messages`,
      );
      if (json) print(list);
      else
        io.stdout(
          table([
            ['MESSAGE', 'JOB', 'CHANNEL', 'TARGET', 'STATUS', 'ATTEMPTS', 'LAST ERROR'],
            ...list.items.map((message: any) => [
              message.id,
              message.job,
              message.channel_name ?? '-',
              message.target,
              message.status,
              String(message.attempts),
              (message.last_error ?? '-').slice(0, 50),
            ]),
          ]),
        );
      return 0;
    }
    case 'resend': {
      const id = positional(parsed, 1, 'the message id (see channels messages)', 'channels resend');
      const message = await client.request(
        'POST',
        `/api/v1/channel-messages/${encodeURIComponent(id)}/resend`,
      );
      if (json) print(message);
      else io.stdout(`Queued ${message.job} to ${message.target} again.\n`);
      return 0;
    }
    default:
      throw new UsageError(
        `Unknown command \`arden channels ${sub}\`. See \`arden channels --help\`.`,
      );
  }
}
