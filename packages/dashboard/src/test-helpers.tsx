import { type RenderResult, render } from '@testing-library/react';
import { vi } from 'vitest';
import { type EventSourceLike, LiveConnection } from './api/live';
import type { Action, Agent, Approval, LiveEvent, Me, Role } from './api/types';
import { App } from './app';

/** A request the fake admin API received. */
export interface Received {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

type Handler = (request: Received) => unknown | Promise<unknown>;

/** Thrown by a handler to answer with an error status. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

/** Returned by a handler to answer with NDJSON lines (a streamed answer). */
export class Lines {
  constructor(readonly lines: unknown[]) {}
}

/**
 * Replaces `fetch` with a fake admin API: `routes` maps `"METHOD path"` (path without
 * `api/v1/`, `:id`-style segments allowed) to a handler. Unknown routes answer 404.
 */
export function fakeApi(routes: Record<string, Handler>) {
  const received: Received[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://dashboard.test/');
    const method = (init?.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/^\/api\/v1\//, '');
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const request = { method, path, query: url.searchParams, body };
    received.push(request);
    for (const [route, handler] of Object.entries(routes)) {
      const [routeMethod, routePath] = route.split(' ') as [string, string];
      if (routeMethod !== method) continue;
      const pattern = new RegExp(`^${routePath.replace(/:[a-z_]+/g, '[^/]+')}$`);
      if (!pattern.test(path)) continue;
      try {
        const answer = await handler(request);
        if (answer instanceof Lines) {
          return new Response(answer.lines.map((line) => `${JSON.stringify(line)}\n`).join(''), {
            status: 200,
            headers: { 'Content-Type': 'application/x-ndjson' },
          });
        }
        return new Response(JSON.stringify(answer ?? { ok: true }), {
          status: 200,
          headers: { 'Content-Type': 'application/json' },
        });
      } catch (error) {
        if (error instanceof Reply) {
          return new Response(JSON.stringify(error.body), { status: error.status });
        }
        throw error;
      }
    }
    return new Response(JSON.stringify({ error: `No route ${method} ${path}` }), { status: 404 });
  });
  vi.stubGlobal('fetch', fetchMock);
  return { received, fetch: fetchMock };
}

/** An event source the test controls. */
export class FakeEventSource implements EventSourceLike {
  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  closed = false;
  private readonly listeners = new Map<string, ((event: MessageEvent) => void)[]>();
  constructor(readonly url: string) {}
  addEventListener(type: string, listener: (event: MessageEvent) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  /** Sends an event as the server would (named, like `event: action.created`). */
  send(event: LiveEvent, named = true): void {
    const message = new MessageEvent(named ? event.type : 'message', {
      data: JSON.stringify(event),
    });
    if (named) for (const listener of this.listeners.get(event.type) ?? []) listener(message);
    else this.onmessage?.(message);
  }
  /** The connection drops; `closed` when the browser gives up (the server answered an error). */
  fail(closed = false): void {
    this.readyState = closed ? 2 : 0;
    this.onerror?.(new Event('error'));
  }
}

/** A live connection over fake event sources; `sources` holds each one opened. */
export function fakeLive() {
  const sources: FakeEventSource[] = [];
  const connection = new LiveConnection((url) => {
    const source = new FakeEventSource(url);
    sources.push(source);
    return source;
  });
  return {
    connection,
    sources,
    get current(): FakeEventSource {
      const source = sources[sources.length - 1];
      if (!source) throw new Error('No event source was opened.');
      return source;
    },
  };
}

/** A signed-in user of `role`. */
export function me(role: Role): Me {
  return {
    user: {
      id: `user-${role}`,
      email: `${role}@example.com`,
      name: null,
      role,
      disabled: false,
      created_at: '2026-11-20T10:00:00.000Z',
      updated_at: '2026-11-20T10:00:00.000Z',
      last_login_at: null,
    },
    authenticated_by: 'session',
    permissions: { decide: role !== 'viewer', administer: role === 'admin' },
  };
}

export const supportAgent: Agent = {
  id: 'agent-1',
  name: 'support-bot',
  description: null,
  default_action: 'allow',
  webhook_url: null,
  signing_key_prefix: 'whsec_abcd…',
  webhook_status: 'none',
  webhook_failing_since: null,
  webhook_disabled_at: null,
  webhook_disabled_reason: null,
  owner_user_id: null,
  webhook_sensitive_in_full: false,
  created_at: '2026-11-20T10:00:00.000Z',
  updated_at: '2026-11-20T10:00:00.000Z',
};

/** A logged action with sensible defaults. */
export function action(overrides: Partial<Action> = {}): Action {
  const args = overrides.args ?? [];
  const kwargs = overrides.kwargs ?? { amount: 150, customer: 'cus_123' };
  return {
    id: 'action-1',
    agent_id: 'agent-1',
    environment: 'test',
    tool_name: 'stripe.issue_refund',
    args,
    kwargs,
    args_json: JSON.stringify(args),
    kwargs_json: JSON.stringify(kwargs),
    metadata: overrides.metadata ?? null,
    metadata_json: overrides.metadata ? JSON.stringify(overrides.metadata) : null,
    session_id: 'session-1',
    decision: 'requires_approval',
    reason: 'rule_matched',
    status: 'pending',
    policy: { id: 'p1', name: 'Refunds', tool: 'stripe.issue_refund', version: 3, rule_index: 0 },
    explanation: 'Policy "Refunds" v3, rule 1 (args.amount > 100) holds: requires approval.',
    evaluation_errors: [],
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    on_timeout: 'deny',
    decided_by: null,
    decided_at: null,
    notes: null,
    outcome: null,
    created_at: new Date(Date.now() - 65_000).toISOString(),
    approval: null,
    ...overrides,
  } as Action;
}

/** The approval state of a call two finance approvers must approve, with these approvers' votes. */
export function twoPersonState(approvers: string[]): NonNullable<Action['approval']> {
  return {
    required: 2,
    approved: approvers.length,
    from: ['finance'],
    approve_in: ['dashboard'],
    exclude_requester: false,
    exclude_owner: true,
    decided_in: null,
    decided_by_user: null,
    votes: approvers.map((user, index) => ({
      decision: 'approve' as const,
      channel: 'dashboard' as const,
      user_id: `user-${user}`,
      user,
      at: new Date(Date.now() - 1_000 + index).toISOString(),
      notes: null,
      round: 0,
    })),
    edits: [],
  };
}

/** A held action as the approvals route lists it. */
export function approval(overrides: Partial<Action> = {}): Approval {
  const base = action(overrides);
  return { ...base, waiting_ms: Date.now() - new Date(base.created_at).getTime() };
}

/** Renders the whole dashboard at `hash` with a fake live connection. */
export function renderApp(
  hash: string,
  live = fakeLive(),
): RenderResult & { live: ReturnType<typeof fakeLive> } {
  window.location.hash = hash;
  const result = render(<App connection={live.connection} />);
  return { ...result, live };
}
