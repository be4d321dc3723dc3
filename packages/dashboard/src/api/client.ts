import type {
  Action,
  ActionDetail,
  AdminToken,
  Agent,
  AgentCreated,
  AgentDetail,
  ApiKey,
  ApiKeyCreated,
  Approval,
  BudgetOverview,
  Channel,
  ChannelMessage,
  CreatedChannel,
  Delivery,
  DeliveryDetail,
  Environment,
  ErrorBody,
  HistoryFlip,
  McpHttpUpstream,
  McpUpstream,
  McpUpstreamDetail,
  Me,
  Page,
  PolicyDefinition,
  PolicyIssue,
  PolicySet,
  PolicyVersion,
  RequestBody,
  SensitiveArguments,
  SensitiveRead,
  Session,
  SessionDetail,
  SigningKeyRotated,
  Simulation,
  SimulationCounts,
  UsageGroup,
  UsageReport,
  User,
  UserCreated,
  Validation,
} from './types';

/**
 * The admin API's base, relative to the page: the server serves the dashboard at `/` on the
 * same origin as `/api/v1`, and a relative URL also works behind a proxy under a sub-path.
 */
export const apiBase = 'api/v1';

/** A failed admin API request, with the server's message (which says what to do). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly issues?: PolicyIssue[],
  ) {
    super(message);
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Calls `listener` whenever the server answers 401 (the session ended): sign in again. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

type Query = Record<string, string | number | boolean | null | undefined>;

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    parameters.set(name, String(value));
  }
  const text = parameters.toString();
  return text ? `?${text}` : '';
}

/** Builds an admin API URL from path segments (each is escaped). */
export function apiPath(...segments: (string | number)[]): string {
  return [apiBase, ...segments.map((segment) => encodeURIComponent(String(segment)))].join('/');
}

/** A request body that is already JSON text, sent byte for byte. */
class RawBody {
  constructor(readonly text: string) {}
}

async function request<T>(
  method: string,
  path: string,
  options: { query?: Query; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path + queryString(options.query), {
      method,
      credentials: 'same-origin',
      headers:
        options.body === undefined
          ? { Accept: 'application/json' }
          : { Accept: 'application/json', 'Content-Type': 'application/json' },
      // A body given as text (`RawBody`) is sent as it is: JSON the browser must not round.
      body:
        options.body === undefined
          ? undefined
          : options.body instanceof RawBody
            ? options.body.text
            : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(
      0,
      'Cannot reach the Arden server. Check that it is running (arden start) and try again.',
    );
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = (body ?? {}) as Partial<ErrorBody>;
    if (response.status === 401 && !path.endsWith('/auth/login')) {
      for (const listener of unauthorizedListeners) listener();
    }
    throw new ApiError(
      response.status,
      typeof error.error === 'string'
        ? error.error
        : `The server answered ${response.status} ${response.statusText}. Try again; if it keeps failing, look at the server's log.`,
      error.field,
      error.issues,
    );
  }
  return body as T;
}

/** Query parameters of the action log. */
export interface ActionFilters {
  agent?: string;
  environment?: string;
  tool?: string;
  decision?: string;
  status?: string;
  session?: string;
  from?: string;
  to?: string;
}

/** The admin API, one function per route. */
export const api = {
  login: (email: string, password: string) =>
    request<{ user: User; expires_at: string }>('POST', apiPath('auth', 'login'), {
      body: { email, password },
    }),
  logout: () => request<{ ok: true }>('POST', apiPath('auth', 'logout')),
  me: (signal?: AbortSignal) => request<Me>('GET', apiPath('me'), { signal }),

  changePassword: (currentPassword: string, newPassword: string) =>
    request<{ ok: true }>('POST', apiPath('me', 'password'), {
      body: { current_password: currentPassword, new_password: newPassword },
    }),
  tokens: () => request<{ items: AdminToken[] }>('GET', apiPath('tokens')),
  createToken: (name: string, expiresInDays: number | null) =>
    request<{ token: string; admin_token: AdminToken }>('POST', apiPath('tokens'), {
      body: { name, expires_in_days: expiresInDays },
    }),
  revokeToken: (id: string) => request<unknown>('POST', apiPath('tokens', id, 'revoke')),

  channels: () => request<{ items: Channel[] }>('GET', apiPath('channels')),
  createChannel: (body: RequestBody<'postChannels'>) =>
    request<CreatedChannel>('POST', apiPath('channels'), { body }),
  updateChannel: (id: string, body: RequestBody<'patchChannels'>) =>
    request<Channel>('PATCH', apiPath('channels', id), { body }),
  setChannelEnabled: (id: string, enabled: boolean) =>
    request<Channel>('PATCH', apiPath('channels', id), { body: { enabled } }),
  channelMessages: (actionId: string) =>
    request<{ items: ChannelMessage[] }>('GET', apiPath('actions', actionId, 'channel-messages')),
  resendChannelMessage: (id: string) =>
    request<ChannelMessage>('POST', apiPath('channel-messages', id, 'resend')),

  users: () => request<{ items: User[] }>('GET', apiPath('users')),
  createUser: (body: RequestBody<'postUsers'>) =>
    request<UserCreated>('POST', apiPath('users'), { body }),
  updateUser: (id: string, body: RequestBody<'patchUsers'>) =>
    request<User>('PATCH', apiPath('users', id), { body }),
  resetPassword: (id: string) =>
    request<UserCreated>('POST', apiPath('users', id, 'reset-password')),

  agents: () => request<Page<Agent>>('GET', apiPath('agents'), { query: { limit: 500 } }),
  agent: (id: string) => request<AgentDetail>('GET', apiPath('agents', id)),
  createAgent: (body: RequestBody<'postAgents'>) =>
    request<AgentCreated>('POST', apiPath('agents'), { body }),
  updateAgent: (id: string, body: RequestBody<'patchAgents'>) =>
    request<Agent>('PATCH', apiPath('agents', id), { body }),
  rotateSigningKey: (id: string) =>
    request<SigningKeyRotated>('POST', apiPath('agents', id, 'signing-key', 'rotate')),
  keys: (agentId: string) =>
    request<{ items: ApiKey[] }>('GET', apiPath('agents', agentId, 'keys'), {
      query: { include_revoked: 'true' },
    }),
  createKey: (agentId: string, environment: Environment, name?: string) =>
    request<ApiKeyCreated>('POST', apiPath('agents', agentId, 'keys'), {
      body: { environment, name: name || null },
    }),
  rotateKey: (agentId: string, keyId: string) =>
    request<ApiKeyCreated>('POST', apiPath('agents', agentId, 'keys', keyId, 'rotate')),
  revokeKey: (agentId: string, keyId: string) =>
    request<unknown>('POST', apiPath('agents', agentId, 'keys', keyId, 'revoke')),
  deliveries: (agentId: string, query: { cursor?: string; limit?: number; status?: string } = {}) =>
    request<Page<Delivery>>('GET', apiPath('agents', agentId, 'deliveries'), { query }),
  delivery: (id: string) => request<DeliveryDetail>('GET', apiPath('deliveries', id)),
  redeliver: (id: string) => request<unknown>('POST', apiPath('deliveries', id, 'redeliver')),

  policySet: (agentId: string, environment: Environment) =>
    request<PolicySet>('GET', apiPath('agents', agentId, 'policies', environment)),
  savePolicySet: (
    agentId: string,
    environment: Environment,
    policies: PolicyDefinition[],
    message: string | null,
  ) =>
    request<PolicyVersion>('PUT', apiPath('agents', agentId, 'policies', environment), {
      body: { policies, message },
    }),
  policyVersions: (agentId: string, environment: Environment, before?: number) =>
    request<Page<PolicyVersion>>(
      'GET',
      apiPath('agents', agentId, 'policies', environment, 'versions'),
      { query: { limit: 20, before } },
    ),
  validatePolicies: (
    agentId: string,
    environment: Environment,
    policies: PolicyDefinition[],
    signal?: AbortSignal,
  ) =>
    request<Validation>('POST', apiPath('agents', agentId, 'policies', environment, 'validate'), {
      body: { policies },
      signal,
    }),
  simulatePolicies: (
    agentId: string,
    environment: Environment,
    policies: PolicyDefinition[],
    limit: number,
  ) =>
    request<Simulation>('POST', apiPath('agents', agentId, 'policies', environment, 'simulate'), {
      body: { policies, limit },
    }),
  /**
   * Replays a window of the log through the draft (NDJSON stream): `onProgress` after each page,
   * `onFlip` per listed flip; resolves with the final counts. Throws `ApiError`.
   */
  simulateHistory: async (
    agentId: string,
    environment: Environment,
    body: { policies: PolicyDefinition[]; since: string; tool?: string; sample?: number },
    handlers: {
      onProgress(counts: SimulationCounts): void;
      onFlip(flip: HistoryFlip): void;
    },
    signal?: AbortSignal,
  ): Promise<SimulationCounts> => {
    let response: Response;
    try {
      response = await fetch(
        apiPath('agents', agentId, 'policies', environment, 'simulate', 'history'),
        {
          method: 'POST',
          credentials: 'same-origin',
          headers: { Accept: 'application/x-ndjson', 'Content-Type': 'application/json' },
          body: JSON.stringify({ ...body, max_flips: 2_000 }),
          signal,
        },
      );
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') throw error;
      throw new ApiError(
        0,
        'Cannot reach the Arden server. Check that it is running (arden start) and try again.',
      );
    }
    if (!response.ok || !response.body) {
      const text = await response.text();
      let error: Partial<ErrorBody> = {};
      try {
        error = JSON.parse(text) as Partial<ErrorBody>;
      } catch {
        // Not JSON: the status says it.
      }
      throw new ApiError(
        response.status,
        typeof error.error === 'string'
          ? error.error
          : `The server answered ${response.status} ${response.statusText}.`,
        error.field,
        error.issues,
      );
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let final: SimulationCounts | undefined;
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffer += value;
      const lines = buffer.split('\n');
      buffer = done ? '' : (lines.pop() ?? '');
      for (const line of lines) {
        if (line.trim() === '') continue;
        const message = JSON.parse(line) as { type: string } & Record<string, unknown>;
        if (message.type === 'progress')
          handlers.onProgress(message as unknown as SimulationCounts);
        else if (message.type === 'flip') handlers.onFlip(message as unknown as HistoryFlip);
        else if (message.type === 'summary') final = message as unknown as SimulationCounts;
        else if (message.type === 'error') {
          throw new ApiError(Number(message.status ?? 500), String(message.error));
        }
      }
      if (done) break;
    }
    if (!final) throw new ApiError(0, 'The simulation stopped before it finished. Try again.');
    return final;
  },
  rollbackPolicies: (agentId: string, environment: Environment, version: number) =>
    request<PolicyVersion>(
      'POST',
      apiPath('agents', agentId, 'policies', environment, 'rollback'),
      {
        body: { version, message: `Rolled back to version ${version}` },
      },
    ),

  actions: (filters: ActionFilters, cursor?: string, signal?: AbortSignal) =>
    request<Page<Action>>('GET', apiPath('actions'), {
      query: { ...filters, cursor, limit: 50 },
      signal,
    }),
  action: (id: string) => request<ActionDetail>('GET', apiPath('actions', id)),
  /** An action's sensitive arguments in full (admins); the server logs the read first. */
  revealSensitive: (id: string, body: RequestBody<'postActionsSensitiveReveal'>) =>
    request<SensitiveArguments>('POST', apiPath('actions', id, 'sensitive', 'reveal'), { body }),
  /** Who read an action's sensitive arguments in full, oldest first. */
  sensitiveReads: (id: string) =>
    request<{ items: SensitiveRead[] }>('GET', apiPath('actions', id, 'sensitive', 'reads')),

  approvals: (cursor?: string) =>
    request<Page<Approval>>('GET', apiPath('approvals'), { query: { cursor, limit: 200 } }),
  /**
   * Approves; with `kwargsJson` (the edited keyword arguments' JSON text, an object), approves
   * with edited arguments (evaluated again by the server). The text is sent as written: parsed
   * here, 12345678901234567891 would become 12345678901234567000.
   */
  approve: (id: string, notes: string, kwargsJson?: string) =>
    request<Action>('POST', apiPath('approvals', id, 'approve'), {
      body: new RawBody(
        `{"notes":${JSON.stringify(notes || null)}${kwargsJson === undefined ? '' : `,"kwargs":${kwargsJson}`}}`,
      ),
    }),
  deny: (id: string, notes: string) =>
    request<Action>('POST', apiPath('approvals', id, 'deny'), { body: { notes: notes || null } }),

  sessions: (query: { agent?: string; environment?: string; cursor?: string }) =>
    request<Page<Session>>('GET', apiPath('sessions'), { query: { ...query, limit: 50 } }),
  session: (id: string) => request<SessionDetail>('GET', apiPath('sessions', id)),
  /** An agent's budgets with spend and reservations now, or in one session. */
  budgets: (agentId: string, environment: string, session?: string) =>
    request<BudgetOverview>('GET', apiPath('agents', agentId, 'budgets', environment), {
      query: { session },
    }),

  usage: (
    groupBy: UsageGroup,
    query: { agent?: string; environment?: string; from?: string; to?: string; limit?: number },
  ) => request<UsageReport>('GET', apiPath('usage'), { query: { group_by: groupBy, ...query } }),

  mcpUpstreams: (query: { agent?: string; environment?: string } = {}) =>
    request<{ items: McpUpstream[] }>('GET', apiPath('mcp', 'upstreams'), { query }),
  mcpUpstream: (id: string) => request<McpUpstreamDetail>('GET', apiPath('mcp', 'upstreams', id)),
  setMcpUpstreamTrusted: (id: string, trusted: boolean) =>
    request<McpUpstream>('PATCH', apiPath('mcp', 'upstreams', id), { body: { trusted } }),
  mcpHttpUpstreams: () =>
    request<{ items: McpHttpUpstream[] }>('GET', apiPath('mcp', 'http-upstreams')),
  /** The URL, headers and token are write-only: the answer carries the origin and header names. */
  createMcpHttpUpstream: (body: RequestBody<'postMcpHttpUpstreams'>) =>
    request<McpHttpUpstream>('POST', apiPath('mcp', 'http-upstreams'), { body }),
  setMcpHttpUpstreamShowBlockedTools: (id: string, show: boolean) =>
    request<McpHttpUpstream>('PATCH', apiPath('mcp', 'http-upstreams', id), {
      body: { show_blocked_tools: show },
    }),
  deleteMcpHttpUpstream: (id: string) =>
    request<{ ok: true }>('DELETE', apiPath('mcp', 'http-upstreams', id)),
};
