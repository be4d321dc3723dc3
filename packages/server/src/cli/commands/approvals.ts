import { RawJson, stringifyJson } from '../../store/json';
import { parse, positional, text } from '../args';
import { clientFor, connectionOptions } from '../client';
import { type CliIo, table, UsageError } from '../io';

const help = `Usage:
  arden approvals list [--agent NAME] [--env test|live]
  arden approvals approve ACTION_ID [--notes TEXT] [--patch JSON_PATCH]
  arden approvals deny ACTION_ID [--notes TEXT]
  arden approvals groups [USER --set GROUP,GROUP]

Held tool calls wait for a decision; the first decision wins (a second one is refused). A policy
with approvals: 2 needs two distinct approvers (the first approval answers "1 of 2").
--patch approves with edited arguments: an RFC 6902 JSON patch of the keyword arguments, such as
'[{"op": "replace", "path": "/amount", "value": 40}]'. The edited call is evaluated again: an
edit the policies block is refused; one they hold needs a further approval by someone else.
groups lists every user's groups; with USER --set it replaces theirs (for from: [group]).
Talks to a running server: --url (ARDEN_URL) and --token (ARDEN_ADMIN_TOKEN); --json for JSON.
`;

function waited(milliseconds: number): string {
  const seconds = Math.round(milliseconds / 1000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

function decidedLine(sub: string, decided: any): string {
  const approval = decided.approval;
  const edit = approval?.edits?.at(-1);
  const edited = edit ? ` with edited arguments ${edit.after_json}` : '';
  if (decided.status === 'pending') {
    return `Approval counted for ${decided.tool_name} (${decided.id})${edited}: ${approval?.approved ?? 1} of ${approval?.required ?? 2}; it waits for more.`;
  }
  return `${sub === 'approve' ? 'Approved' : 'Denied'} ${decided.tool_name} (${decided.id})${edited}.`;
}

/** `arden approvals …` */
export async function approvalsCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(
    argv,
    {
      ...connectionOptions,
      agent: { type: 'string' },
      env: { type: 'string' },
      notes: { type: 'string' },
      patch: { type: 'string' },
      set: { type: 'string' },
    },
    'approvals',
  );
  const sub = parsed.positionals[0];
  if (parsed.values.help || sub === undefined || sub === 'help') {
    io.stdout(help);
    return sub === undefined && !parsed.values.help ? 2 : 0;
  }
  const client = clientFor(io, { url: text(parsed, 'url'), token: text(parsed, 'token') });
  const json = parsed.values.json === true;
  if (sub === 'list') {
    const query = new URLSearchParams({ limit: '200' });
    const agent = text(parsed, 'agent');
    const environment = text(parsed, 'env');
    if (agent) query.set('agent', agent);
    if (environment) query.set('environment', environment);
    const pending = await client.request('GET', `/api/v1/approvals?${query}`);
    if (json) {
      // The arguments as the agent sent them: this process's JSON parser rounded big integers.
      const items = pending.items.map((action: any) => ({
        ...action,
        args: typeof action.args_json === 'string' ? new RawJson(action.args_json) : action.args,
        kwargs:
          typeof action.kwargs_json === 'string' ? new RawJson(action.kwargs_json) : action.kwargs,
      }));
      io.stdout(`${stringifyJson({ ...pending, items }, 2)}\n`);
      return 0;
    }
    if (pending.items.length === 0) {
      io.stdout('Nothing is waiting for approval.\n');
      return 0;
    }
    io.stdout(
      table([
        ['ACTION', 'TOOL', 'ARGUMENTS', 'ENV', 'SESSION', 'WAITING', 'RULE'],
        ...pending.items.map((action: any) => [
          action.id,
          action.tool_name,
          // As the agent sent it: the parsed kwargs would show big numbers rounded.
          (action.kwargs_json ?? JSON.stringify(action.kwargs)).slice(0, 60),
          action.environment,
          action.session_id ?? '-',
          waited(action.waiting_ms),
          action.policy
            ? `${action.policy.name}${action.policy.rule_index >= 0 ? `#${action.policy.rule_index}` : ' (default)'}`
            : (action.reason ?? '-'),
        ]),
      ]),
    );
    return 0;
  }
  if (sub === 'approve' || sub === 'deny') {
    const id = positional(
      parsed,
      1,
      'the action id (see `arden approvals list`)',
      `approvals ${sub}`,
    );
    const body: Record<string, unknown> = { notes: text(parsed, 'notes') ?? null };
    const patchText = text(parsed, 'patch');
    if (patchText !== undefined) {
      if (sub !== 'approve') throw new UsageError('--patch only applies to `approvals approve`.');
      try {
        JSON.parse(patchText);
        // Sent as written: the patch's values (12345678901234567891, 1.0) are not re-serialised.
        body.patch = new RawJson(patchText);
      } catch (error) {
        throw new UsageError(
          `--patch is not JSON (${(error as Error).message}); give an RFC 6902 patch such as '[{"op": "replace", "path": "/amount", "value": 40}]'.`,
        );
      }
    }
    const decided = await client.request(
      'POST',
      `/api/v1/approvals/${encodeURIComponent(id)}/${sub}`,
      body,
    );
    if (json) io.stdout(`${JSON.stringify(decided, null, 2)}\n`);
    else io.stdout(`${decidedLine(sub, decided)}\n`);
    return 0;
  }
  if (sub === 'groups') {
    const user = parsed.positionals[1];
    const set = text(parsed, 'set');
    if (user !== undefined) {
      if (set === undefined)
        throw new UsageError('Give the groups: --set finance,ops (or --set "").');
      const groups = set
        .split(',')
        .map((group) => group.trim())
        .filter(Boolean);
      const saved = await client.request(
        'PUT',
        `/api/v1/users/${encodeURIComponent(user)}/groups`,
        { groups },
      );
      io.stdout(
        json
          ? `${JSON.stringify(saved, null, 2)}\n`
          : `${saved.email}: ${saved.groups.join(', ') || '(no group)'}\n`,
      );
      return 0;
    }
    const all = await client.request('GET', '/api/v1/groups');
    if (json) io.stdout(`${JSON.stringify(all, null, 2)}\n`);
    else
      io.stdout(
        table([
          ['USER', 'GROUPS'],
          ...all.items.map((item: any) => [item.email, item.groups.join(', ') || '-']),
        ]),
      );
    return 0;
  }
  throw new UsageError(
    `Unknown command \`arden approvals ${sub}\`. See \`arden approvals --help\`.`,
  );
}
