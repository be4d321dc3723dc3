// Scale-out and faults, with real processes: three `arden start` replicas (the built CLI) on one
// PostgreSQL database, agents (@arden/core) talking to all of them, a webhook receiver, a
// dashboard event stream. Then faults: a replica killed with SIGKILL while deliveries are in
// flight, PostgreSQL itself stopped and started under the running servers, and approve / deny /
// expire racing on the same actions across replicas.
//
// This file runs in its own vitest project after every other one (it restarts PostgreSQL).
import { type Arden, ArdenUnavailableError, createArden } from '@arden/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLogger } from './logger';
import { openStore, type Store } from './store';
import { testDatabaseUrl } from './test-fixtures/harness';
import {
  adminEmail,
  clusterRunning,
  controlCluster,
  localCluster,
  type Receiver,
  type Replica,
  startReceiver,
  startReplica,
} from './test-fixtures/replica-processes';
import { type EventCollector, openEvents } from './test-fixtures/sse';

let databaseUrl: string;
let store: Store;
let receiver: Receiver;
let replicas: Replica[] = [];
let token: string;
let agentId: string;
let liveKey: string;
const clients: Arden[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch((error) => error as T);
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${timeoutMs} ms; last: ${String(value)}`);
    }
    await sleep(50);
  }
}

/** Calls the admin API of a replica with the admin token. */
async function admin(replica: Replica, method: string, path: string, body?: unknown) {
  const response = await fetch(replica.url + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, at: performance.now() };
}

function client(replica: Replica, options: Parameters<typeof createArden>[0] = {}): Arden {
  const arden = createArden({
    apiKey: liveKey,
    apiUrl: replica.url,
    logLevel: 'silent',
    retryAttempts: 1,
    timeoutMs: 10_000,
    ...options,
  });
  clients.push(arden);
  return arden;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function dumpLogs(): string {
  return replicas
    .map((replica) => `--- ${replica.name}\n${replica.log().slice(-4_000)}`)
    .join('\n');
}

beforeAll(async () => {
  databaseUrl = (await testDatabaseUrl()) as string;
  receiver = await startReceiver();
  // Three replicas started at the same moment on an empty database: they migrate once (the
  // advisory lock) and create the first admin once.
  replicas = await Promise.all(['A', 'B', 'C'].map((name) => startReplica(name, databaseUrl)));
  store = await openStore({ databaseUrl, migrate: false, logger: createLogger('silent') });
  const { UserAdministration } = await import('./users/service');
  const users = new UserAdministration(store);
  const user = await store.users.getByEmail(adminEmail);
  token = (await users.createToken(user?.id as string, 'scale-out test')).token;
  const [a] = replicas as [Replica];
  const created = await admin(a, 'POST', '/api/v1/agents', {
    name: 'scale-agent',
    webhook_url: receiver.url,
    create_keys: ['live'],
  });
  expect(created.status, created.text).toBe(201);
  agentId = created.json.agent.id;
  liveKey = created.json.keys[0].key;
  const policies = await admin(a, 'PUT', `/api/v1/agents/${agentId}/policies/live`, {
    policies: [
      { name: 'Payments need a human', tool: 'payments.*', action: 'requires_approval' },
      {
        name: 'Quick approvals',
        tool: 'quick.*',
        action: 'requires_approval',
        timeout: 2,
        on_timeout: 'deny',
      },
    ],
  });
  expect(policies.status, policies.text).toBe(200);
}, 60_000);

afterAll(async () => {
  // Whatever happened, PostgreSQL runs when this file is done.
  const local = localCluster();
  if (local && !clusterRunning(local)) controlCluster(local, 'start');
  for (const arden of clients) await arden.shutdown().catch(() => undefined);
  await Promise.all(replicas.map((replica) => replica.stop().catch(() => undefined)));
  await store?.close().catch(() => undefined);
  await receiver?.close();
});

/** Waits until the action shows up on a dashboard stream, and returns its id. */
async function heldAction(stream: EventCollector, n: number): Promise<string> {
  const event = await stream.waitFor(
    (candidate) =>
      candidate.event === 'action.created' &&
      candidate.data.action?.status === 'pending' &&
      candidate.data.action?.kwargs?.n === n,
    10_000,
  );
  return event.data.action_id;
}

describe('three replicas (processes) on one PostgreSQL', () => {
  test('agents on every replica; approvals on another wake them within 100 ms; every webhook once; the dashboard of a third sees it all', async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    receiver.delayMs = 100; // slow enough that the workers of all replicas overlap
    const dashboard = await openEvents(c.url, token);
    try {
      await sleep(300); // the other replicas hear that C has a dashboard open
      const agents = [client(a), client(b), client(c)];
      const latencies: number[] = [];
      const ids: string[] = [];
      for (let n = 0; n < 15; n++) {
        const agent = agents[n % 3] as Arden;
        const decider = replicas[(n + 1) % 3] as Replica;
        let ranAt = 0;
        const pay = agent.guardTool('payments.pay', async (input: { n: number }) => {
          ranAt = performance.now();
          return `paid ${input.n}`;
        });
        const call = pay({ n });
        const id = await heldAction(dashboard, n);
        ids.push(id);
        await sleep(100); // the agent's long-poll is waiting
        const decision = await admin(decider, 'POST', `/api/v1/approvals/${id}/approve`, {
          notes: `by ${decider.name}`,
        });
        expect(decision.status, decision.text).toBe(200);
        await expect(call).resolves.toBe(`paid ${n}`);
        latencies.push(ranAt - decision.at);
      }
      console.info(
        `cross-process wake-up (approve answered → tool running on another replica's agent): p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
      );
      expect(percentile(latencies, 95)).toBeLessThan(100);

      // Allowed calls and usage through every replica.
      for (const [index, agent] of agents.entries()) {
        const read = agent.guardTool('crm.read', async () => index);
        await expect(read()).resolves.toBe(index);
        agent.logTokenUsage({ model: 'gpt-4o', promptTokens: 10, completionTokens: 5 });
        await agent.flush();
      }
      // The dashboard on C saw the decisions made on A and B, and usage recorded everywhere.
      for (const id of ids) {
        await dashboard.waitFor(
          (event) =>
            event.event === 'action.decided' &&
            event.data.action_id === id &&
            event.data.action.status === 'approved',
        );
      }
      await eventually(
        async () => dashboard.events.filter((event) => event.event === 'usage.recorded').length,
        (count) => count >= 3,
        5_000,
        'usage events on the dashboard',
      );

      // Every webhook delivered, each exactly once (no crash here: no duplicates either).
      const events = await eventually(
        async () =>
          store.database.all<{ event_id: string; status: string }>(
            'SELECT event_id, status FROM webhook_outbox',
          ),
        (rows) => rows.length === ids.length && rows.every((row) => row.status === 'delivered'),
        20_000,
        'all deliveries delivered',
      );
      const counts = new Map<string, number>();
      for (const request of receiver.received) {
        counts.set(request.eventId, (counts.get(request.eventId) ?? 0) + 1);
      }
      for (const row of events) expect(counts.get(row.event_id), row.event_id).toBe(1);
    } finally {
      await dashboard.close();
      receiver.delayMs = 0;
    }
  }, 90_000);

  test('approve, deny and expire racing on three replicas: one terminal state, one webhook', async () => {
    const [a] = replicas as [Replica];
    const agent = client(a);
    const before = receiver.received.length;
    const rounds: string[] = [];
    for (let n = 100; n < 106; n++) {
      const quick = agent.guardTool('quick.pay', async (_input: { n: number }) => 'ran', {
        approvalMode: 'async',
      });
      const pending = (await quick({ n })) as unknown as { actionId: string };
      const id = pending.actionId;
      rounds.push(id);
      // Odd rounds race right at the expiry (the sweepers of all three run every second);
      // even rounds well before it.
      if (n % 2 === 1) {
        const action = await store.actions.get(id);
        await sleep(Math.max(0, (action?.expiresAt as number) - Date.now()));
      }
      const answers = await Promise.all(
        replicas.flatMap((replica) => [
          admin(replica, 'POST', `/api/v1/approvals/${id}/approve`, {}),
          admin(replica, 'POST', `/api/v1/approvals/${id}/deny`, {}),
        ]),
      );
      const won = answers.filter((answer) => answer.status === 200);
      for (const answer of answers) expect([200, 409]).toContain(answer.status);
      const final = await eventually(
        () => store.actions.get(id),
        (action) => action?.status !== 'pending',
        10_000,
        'a terminal state',
      );
      expect(won.length).toBe(final?.status === 'expired' ? 0 : 1);
      const deliveries = (await store.webhooks.list({ actionId: id })).items;
      expect(deliveries).toHaveLength(1);
    }
    // One webhook event per action reached the receiver.
    await eventually(
      async () => receiver.received.length - before,
      (count) => count >= rounds.length,
      20_000,
      'webhooks of the race',
    );
    await sleep(500);
    const actionIds = receiver.received
      .slice(before)
      .map((request) => JSON.parse(request.body).action.action_id);
    expect(actionIds.sort()).toEqual([...rounds].sort());
  }, 90_000);

  test('kill -9 of a replica with deliveries in flight: all delivered, duplicates share the event id, taken over within 60 s', async () => {
    const [a] = replicas as [Replica];
    receiver.delayMs = 3_000;
    const before = receiver.received.length;
    const agent = client(a);
    const ids: string[] = [];
    // Decided on A: A's worker is nudged at once and claims them (10 per round).
    for (let n = 200; n < 212; n++) {
      const pay = agent.guardTool('payments.pay', async (_input: { n: number }) => 'ok', {
        approvalMode: 'async',
      });
      ids.push(((await pay({ n })) as unknown as { actionId: string }).actionId);
    }
    await Promise.all(ids.map((id) => admin(a, 'POST', `/api/v1/approvals/${id}/approve`, {})));
    await eventually(
      async () => receiver.received.length - before,
      (count) => count >= 5,
      10_000,
      'deliveries in flight',
    );
    const leased = await store.database.all<{ id: string; lease_owner: string }>(
      "SELECT id, lease_owner FROM webhook_outbox WHERE status = 'pending' AND lease_owner IS NOT NULL",
    );
    expect(leased.length).toBeGreaterThan(0);
    await a.kill();
    const killedAt = Date.now();
    receiver.delayMs = 0;
    replicas = replicas.filter((replica) => replica !== a);

    const outbox = await eventually(
      () =>
        store.database.all<{ event_id: string; status: string; action_id: string }>(
          `SELECT event_id, status, action_id FROM webhook_outbox WHERE action_id IN (${ids.map(() => '?').join(', ')})`,
          ids,
        ),
      (rows) => rows.length === ids.length && rows.every((row) => row.status === 'delivered'),
      70_000,
      'every delivery delivered after the kill',
    );
    const tookOver = Date.now() - killedAt;
    console.info(
      `kill -9: the dead replica's deliveries were delivered ${tookOver} ms after it died`,
    );
    expect(tookOver).toBeLessThan(60_000);
    const received = receiver.received.slice(before);
    const bodies = new Map<string, Set<string>>();
    for (const request of received) {
      const set = bodies.get(request.eventId) ?? new Set();
      set.add(request.body);
      bodies.set(request.eventId, set);
    }
    for (const row of outbox) {
      // At least once, and a duplicate is the same event (same id, same signed body).
      expect(bodies.get(row.event_id)?.size, row.event_id).toBe(1);
    }
    expect(new Set(received.map((request) => request.eventId))).toEqual(
      new Set(outbox.map((row) => row.event_id)),
    );
    const duplicates = received.length - bodies.size;
    console.info(
      `kill -9: ${received.length} requests for ${bodies.size} events (${duplicates} duplicates)`,
    );

    // A replacement replica joins.
    replicas.push(await startReplica('A2', databaseUrl));
  }, 120_000);
});

const cluster = localCluster();

describe.skipIf(!cluster)('PostgreSQL restarted under running replicas', () => {
  test('checks fail closed with a clear error meanwhile; the replicas recover by themselves', async () => {
    if (!cluster) return;
    const [b, c] = replicas.slice(-2) as [Replica, Replica];
    const agentOnB = client(b, { retryAttempts: 0, timeoutMs: 5_000 });
    const lenient = client(b, { retryAttempts: 0, timeoutMs: 5_000, onUnavailable: 'allow' });
    // An agent long-polls on C for a decision that will be made after the restart.
    const waiting = client(c, { maxWaitMs: 120_000, retryAttempts: 5 });
    const payWaiting = waiting.guardTool('payments.pay', async (input: { n: number }) => input.n);
    const dashboard = await openEvents(b.url, token);
    const waitingCall = payWaiting({ n: 300 });
    const heldId = await heldAction(dashboard, 300);
    await dashboard.close();

    let stoppedAt = 0;
    try {
      controlCluster(cluster, 'stop');
      stoppedAt = Date.now();
      // Meanwhile: fail closed, with an error that says what is wrong.
      let ran = false;
      const read = agentOnB.guardTool('crm.read', async () => {
        ran = true;
      });
      const error = await read().catch((caught) => caught);
      expect(ArdenUnavailableError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toMatch(/cannot reach its database/);
      expect(error.message).toMatch(/did not run/);
      expect(ran).toBe(false);
      // …or follow onUnavailable: 'allow'.
      const unchecked = lenient.guardTool('crm.read', async () => 'ran unchecked');
      await expect(unchecked()).resolves.toBe('ran unchecked');
      const ready = await fetch(`${b.url}/readyz`);
      expect(ready.status).toBe(503);
      expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
      await sleep(1_000);
    } finally {
      // Whatever happened above, PostgreSQL runs again when this test ends.
      if (!clusterRunning(cluster)) controlCluster(cluster, 'start');
    }
    const downMs = Date.now() - stoppedAt;

    // The replicas recover by themselves: checks succeed again on each.
    const startedAt = Date.now();
    for (const replica of [b, c]) {
      const agent = client(replica, { retryAttempts: 0, timeoutMs: 5_000 });
      await eventually(
        () => agent.guardTool('crm.read', async () => 'back')(),
        (value) => value === 'back',
        30_000,
        `checks on ${replica.name} after the restart\n${dumpLogs()}`,
      );
    }
    const recoveredMs = Date.now() - startedAt;
    // The agent that waited across the restart is woken by a decision made after it.
    const decided = await eventually(
      () => admin(b, 'POST', `/api/v1/approvals/${heldId}/approve`, {}),
      (answer) => answer.status === 200,
      15_000,
      'an approval after the restart',
    );
    expect(decided.status).toBe(200);
    await expect(waitingCall).resolves.toBe(300);
    // Its webhook is delivered too.
    await eventually(
      async () => (await store.webhooks.list({ actionId: heldId })).items[0]?.status,
      (status) => status === 'delivered',
      20_000,
      'the webhook after the restart',
    );
    console.info(
      `PostgreSQL restart: down ${downMs} ms; every replica answered checks again ${recoveredMs} ms after it was back`,
    );
  }, 120_000);
});
