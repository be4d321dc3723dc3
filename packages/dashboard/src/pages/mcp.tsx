import { useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client';
import { queryKeys } from '../api/queries';
import type { McpHttpUpstream, McpUpstream, McpUpstreamTool } from '../api/types';
import { PageHeader } from '../components/layout';
import { Badge, ErrorNotice, Loading } from '../components/states';
import { formatTime } from '../format';
import { MCP_HINTS } from '../mcp';
import { href, Link, useQueryState } from '../router';
import { useAgents, usePermissions } from '../state';

// MCP: the upstreams the gateways reported (per agent and environment) with their tools, the
// annotations each declares and the policy that governs each; whether an admin trusts an
// upstream's hints; and the remote MCP servers of the HTTP gateway, whose URL and credentials
// are write-only (the page shows the origin and the header names, never a value). It is live:
// the server's `mcp.*` events invalidate what they changed (src/api/live-cache.ts).

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The hints a tool declares, as badges: "destructive", or "not destructive" when declared false. */
function Annotations({ tool }: { tool: McpUpstreamTool }) {
  const declared = MCP_HINTS.filter(({ key }) => typeof tool.annotations[key] === 'boolean');
  if (declared.length === 0) return <span className="muted">none declared</span>;
  return (
    <span className="badges">
      {declared.map(({ key, label }) =>
        tool.annotations[key] === true ? (
          <Badge key={key} value={`hint-${key}`} label={label} />
        ) : (
          <Badge key={key} value="hint-false" label={`not ${label}`} />
        ),
      )}
    </span>
  );
}

function GoverningPolicy({
  upstream,
  tool,
  listsBlocked,
}: {
  upstream: McpUpstream;
  tool: McpUpstreamTool;
  /** The HTTP upstream keeps the always-blocked tools in tools/list (its `show_blocked_tools`). */
  listsBlocked: boolean;
}) {
  const to = href('/policies', { agent: upstream.agent_id, environment: upstream.environment });
  if (!tool.policy) {
    return (
      <Link to={to} title="No policy matches this tool: the agent's default decides">
        agent default
      </Link>
    );
  }
  return (
    <>
      <Link to={to}>{tool.policy.name}</Link> <code>{tool.policy.tool}</code>
      {tool.policy.always_blocks ? (
        <>
          {' '}
          <Badge
            value="block"
            label={
              listsBlocked
                ? 'always blocks: listed in tools/list, refused when called'
                : 'always blocks: hidden from tools/list'
            }
          />
        </>
      ) : null}
    </>
  );
}

/** One reported upstream: its trust (admins toggle it) and its tools. */
function UpstreamPanel({
  upstream,
  http,
  onChanged,
}: {
  upstream: McpUpstream;
  /** The HTTP gateway's upstreams, for the setting of the one this is (transport `http`). */
  http: McpHttpUpstream[] | undefined;
  onChanged: () => void;
}) {
  const { administer } = usePermissions();
  const agents = useAgents();
  const detail = useQuery({
    queryKey: queryKeys.mcpUpstream(upstream.id),
    queryFn: () => api.mcpUpstream(upstream.id),
  });
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const toggle = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await api.setMcpUpstreamTrusted(upstream.id, !upstream.trusted);
      onChanged();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  const title = `MCP server ${upstream.name}`;
  const listsBlocked =
    upstream.transport === 'http' &&
    (http ?? []).some((item) => item.name === upstream.name && item.show_blocked_tools);
  return (
    <section className="panel panel-wide" aria-label={title}>
      <div className="panel-heading">
        <h2>
          <code>{upstream.name}</code>{' '}
          <span className="muted">
            · {agents.name(upstream.agent_id)} · {upstream.environment} ·{' '}
            {upstream.transport ?? 'not reported yet'}
          </span>
        </h2>
        <p>
          {upstream.trusted ? (
            <Badge value="ok" label="trusted" />
          ) : (
            <Badge value="untrusted" label="untrusted" />
          )}{' '}
          {upstream.tools_reported_at ? (
            <span className="muted">
              {upstream.tool_count} tools, reported {formatTime(upstream.tools_reported_at)}
            </span>
          ) : (
            <span className="muted">no tools reported yet</span>
          )}{' '}
          {administer ? (
            <button type="button" className="button" disabled={busy} onClick={() => void toggle()}>
              {upstream.trusted ? 'Stop trusting' : 'Trust its annotations'}
            </button>
          ) : null}
        </p>
        {upstream.trusted ? null : (
          <p className="hint">
            Untrusted: its hints are read at their most cautious on every check (destructive, not
            read-only, not idempotent, open world) — they can tighten a rule but never relax it.
          </p>
        )}
        {error ? <p role="alert">{error}</p> : null}
      </div>
      {detail.isPending ? (
        <Loading what="Loading its tools" />
      ) : detail.isError ? (
        <ErrorNotice error={detail.error} retry={() => void detail.refetch()} />
      ) : detail.data.tools.length === 0 ? (
        <p className="muted">No tools reported.</p>
      ) : (
        <table className="table table-compact" aria-label={`Tools of ${upstream.name}`}>
          <thead>
            <tr>
              <th>Tool</th>
              <th>Annotations (as declared)</th>
              <th>Governing policy</th>
            </tr>
          </thead>
          <tbody>
            {detail.data.tools.map((tool) => (
              <tr key={tool.name}>
                <td>
                  <code>{tool.arden_tool}</code>
                  {tool.title || tool.description ? (
                    <div className="muted truncate">{tool.title ?? tool.description}</div>
                  ) : null}
                </td>
                <td>
                  <Annotations tool={tool} />
                </td>
                <td>
                  <GoverningPolicy upstream={upstream} tool={tool} listsBlocked={listsBlocked} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** `Name: value` lines to a headers map; throws saying which line is wrong. */
function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`Header line ${index + 1}: write it as "Name: value".`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  });
  return headers;
}

/** Registers a remote MCP server. The URL, headers and token are sent once, never read back. */
function HttpUpstreamForm({ onSaved, onCancel }: { onSaved: () => void; onCancel: () => void }) {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [token, setToken] = useState('');
  const [headers, setHeaders] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const parsed = parseHeaders(headers);
      await api.createMcpHttpUpstream({
        name,
        url,
        ...(Object.keys(parsed).length > 0 ? { headers: parsed } : {}),
        ...(token ? { bearer_token: token } : {}),
      });
      setUrl('');
      setToken('');
      setHeaders('');
      onSaved();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="panel form-grid" onSubmit={submit} aria-label="New HTTP upstream">
      <h2>New HTTP upstream</h2>
      <label className="field">
        <span>Name (agents connect to /mcp/&lt;name&gt;)</span>
        <input
          required
          pattern="[A-Za-z0-9_\-]{1,64}"
          value={name}
          onChange={(event) => setName(event.target.value)}
        />
      </label>
      <label className="field">
        <span>Upstream URL</span>
        <input
          required
          type="url"
          autoComplete="off"
          placeholder="https://mcp.example.com/mcp"
          value={url}
          onChange={(event) => setUrl(event.target.value)}
        />
      </label>
      <label className="field">
        <span>Bearer token (optional)</span>
        <input
          type="password"
          autoComplete="new-password"
          value={token}
          onChange={(event) => setToken(event.target.value)}
        />
      </label>
      <label className="field">
        <span>Headers (optional, one "Name: value" a line)</span>
        <textarea rows={3} value={headers} onChange={(event) => setHeaders(event.target.value)} />
      </label>
      <p className="hint">
        The URL, token and header values are stored encrypted and never shown again: only the URL's
        origin and the header names are.
      </p>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <div>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Add upstream'}
        </button>{' '}
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/**
 * Where an HTTP upstream's tools show: the gateway reports them per agent and environment when an
 * agent's client lists them, as a reported upstream of the same name with transport `http`.
 */
function HttpUpstreamTools({
  upstream,
  reported,
}: {
  upstream: McpHttpUpstream;
  reported: McpUpstream[] | undefined;
}) {
  const agents = useAgents();
  const seen = (reported ?? []).filter(
    (item) => item.name === upstream.name && item.transport === 'http',
  );
  if (seen.length === 0) {
    return (
      <span className="muted" title="Its tools show once an agent's client lists them">
        not listed yet
      </span>
    );
  }
  return (
    <>
      {seen.map((item, index) => (
        <span key={item.id}>
          {index > 0 ? ', ' : null}
          <Link to={href('/mcp', { agent: item.agent_id, environment: item.environment })}>
            {agents.name(item.agent_id)} · {item.environment}
          </Link>{' '}
          <span className="muted">({item.tool_count})</span>
        </span>
      ))}
    </>
  );
}

/**
 * Whether `tools/list` through this upstream keeps the tools a policy always blocks (they are
 * still refused when called). Admins toggle it; new sessions use the new setting.
 */
function ShowBlockedTools({
  upstream,
  onChanged,
}: {
  upstream: McpHttpUpstream;
  onChanged: () => void;
}) {
  const { administer } = usePermissions();
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const shown = upstream.show_blocked_tools;
  if (!administer) {
    return shown ? (
      <span>shown in tools/list</span>
    ) : (
      <span className="muted">hidden from tools/list</span>
    );
  }
  const toggle = async (show: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      await api.setMcpHttpUpstreamShowBlockedTools(upstream.id, show);
      onChanged();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <label
        className="checkbox nowrap"
        title="Sessions opened from now on use this; open sessions keep theirs. A blocked tool is refused when called either way."
      >
        <input
          type="checkbox"
          aria-label={`Show always-blocked tools of ${upstream.name} in tools/list`}
          checked={shown}
          disabled={busy}
          onChange={(event) => void toggle(event.target.checked)}
        />{' '}
        shown in tools/list
      </label>
      {error ? <p role="alert">{error}</p> : null}
    </>
  );
}

function HttpUpstreamRow({
  upstream,
  reported,
  onChanged,
}: {
  upstream: McpHttpUpstream;
  reported: McpUpstream[] | undefined;
  onChanged: () => void;
}) {
  const { administer } = usePermissions();
  const [error, setError] = useState<string | undefined>(undefined);
  const [confirming, setConfirming] = useState(false);
  const remove = async () => {
    setError(undefined);
    try {
      await api.deleteMcpHttpUpstream(upstream.id);
      onChanged();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <tr>
      <td>
        <code>{upstream.name}</code>
      </td>
      <td>
        <code>{upstream.endpoint}</code>
      </td>
      <td>
        <code>{upstream.origin}</code>
      </td>
      <td>{upstream.header_names.join(', ') || <span className="muted">none</span>}</td>
      <td>
        <HttpUpstreamTools upstream={upstream} reported={reported} />
      </td>
      <td>
        <ShowBlockedTools upstream={upstream} onChanged={onChanged} />
      </td>
      <td className="nowrap">{formatTime(upstream.created_at)}</td>
      <td>
        {administer ? (
          confirming ? (
            <>
              <button type="button" className="button" onClick={() => void remove()}>
                Remove {upstream.name}
              </button>{' '}
              <button type="button" className="button" onClick={() => setConfirming(false)}>
                Keep
              </button>
            </>
          ) : (
            <button type="button" className="button" onClick={() => setConfirming(true)}>
              Remove
            </button>
          )
        ) : null}
        {error ? <p role="alert">{error}</p> : null}
      </td>
    </tr>
  );
}

/** The MCP page. `?agent=&environment=` narrow the reported upstreams. */
export function McpPage() {
  const [query, setQuery] = useQueryState();
  const agents = useAgents();
  const { administer } = usePermissions();
  const client = useQueryClient();
  const agent = query.get('agent') ?? '';
  const environment = query.get('environment') ?? '';
  const upstreams = useQuery({
    queryKey: queryKeys.mcpUpstreams(agent, environment),
    queryFn: () =>
      api.mcpUpstreams({ agent: agent || undefined, environment: environment || undefined }),
  });
  const http = useQuery({
    queryKey: queryKeys.mcpHttpUpstreams,
    queryFn: api.mcpHttpUpstreams,
  });
  const [adding, setAdding] = useState(false);
  const changed = () => void client.invalidateQueries({ queryKey: queryKeys.mcp });
  return (
    <>
      <PageHeader title="MCP">
        <p>
          The MCP servers behind Arden's gateways: every tool call is checked as{' '}
          <code>mcp.&lt;server&gt;.&lt;tool&gt;</code>. See docs/integrations/mcp.md.
        </p>
      </PageHeader>
      <div className="filters">
        <label className="field field-inline">
          <span>Agent</span>
          <select value={agent} onChange={(event) => setQuery({ agent: event.target.value })}>
            <option value="">all agents</option>
            {agents.agents.map((item) => (
              <option key={item.id} value={item.id}>
                {item.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-inline">
          <span>Environment</span>
          <select
            value={environment}
            onChange={(event) => setQuery({ environment: event.target.value })}
          >
            <option value="">both</option>
            <option value="test">test</option>
            <option value="live">live</option>
          </select>
        </label>
      </div>
      <h2>Reported upstreams</h2>
      {upstreams.isPending ? (
        <Loading />
      ) : upstreams.isError ? (
        <ErrorNotice error={upstreams.error} retry={() => void upstreams.refetch()} />
      ) : upstreams.data.items.length === 0 ? (
        <p className="muted">
          No MCP server reported yet. A gateway (<code>arden-mcp</code>, or the HTTP gateway below)
          reports an upstream's tools when it starts.
        </p>
      ) : (
        upstreams.data.items.map((upstream) => (
          <UpstreamPanel
            key={upstream.id}
            upstream={upstream}
            http={http.data?.items}
            onChanged={changed}
          />
        ))
      )}
      <section className="panel panel-wide" aria-labelledby="http-upstreams-title">
        <div className="page-header">
          <h2 id="http-upstreams-title">HTTP upstreams</h2>
          {administer && !adding ? (
            <button type="button" className="button button-primary" onClick={() => setAdding(true)}>
              New HTTP upstream
            </button>
          ) : null}
        </div>
        {adding ? (
          <HttpUpstreamForm
            onSaved={() => {
              setAdding(false);
              changed();
            }}
            onCancel={() => setAdding(false)}
          />
        ) : null}
        {http.isPending ? (
          <Loading />
        ) : http.isError ? (
          <ErrorNotice error={http.error} retry={() => void http.refetch()} />
        ) : http.data.items.length === 0 ? (
          <p className="muted">
            No remote MCP server registered. Register one to serve it to agents at{' '}
            <code>/mcp/&lt;name&gt;</code>.
          </p>
        ) : (
          <table className="table" aria-label="HTTP upstreams">
            <thead>
              <tr>
                <th>Name</th>
                <th>Endpoint</th>
                <th>Origin</th>
                <th>Headers sent</th>
                <th>Tools (per agent)</th>
                <th title="The tools a policy always blocks for the agent: hidden from tools/list by default, refused when called either way">
                  Always-blocked tools
                </th>
                <th>Added</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {http.data.items.map((upstream) => (
                <HttpUpstreamRow
                  key={upstream.id}
                  upstream={upstream}
                  reported={upstreams.data?.items}
                  onChanged={changed}
                />
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
