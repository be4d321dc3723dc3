import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Arden,
  createArden,
  type PendingApproval,
  PolicyDeniedError,
  silentLogger,
  withSession,
} from '@arden/core';
import { diffPolicies, type PolicyDefinition } from '@arden/policy';
import type { ArdenServer } from '../server';
import type { AgentRecord } from '../store';

/** The demo agent's name. */
export const demoAgentName = 'demo-agent';

/** The demo's policies (test environment). */
export const demoPolicies: PolicyDefinition[] = [
  {
    name: 'crm-read-and-write',
    tool: 'crm.*',
    description: 'CRM tools are safe for this agent.',
    action: 'allow',
  },
  {
    name: 'refunds',
    tool: 'stripe.issue_refund',
    description: 'Small refunds go through; larger ones need a human.',
    rules: [{ if: 'args.amount <= 50', then: 'allow' }],
    default: 'requires_approval',
    timeout: 600,
    on_timeout: 'deny',
  },
  {
    name: 'no-dropping-tables',
    tool: 'db.drop_table',
    description: 'Never drop a table.',
    action: 'block',
  },
];

/** What `seedDemo` set up. */
export interface DemoSetup {
  agent: AgentRecord;
  apiKey: string;
  /** Where the key was written. */
  file: string;
}

/**
 * Creates (or reuses) the demo agent with a fresh test key (older demo keys are revoked),
 * saves the demo policies when they differ from the current set, and writes the key to
 * `<dataDir>/demo-agent.json` (mode 600).
 */
export async function seedDemo(
  server: ArdenServer,
  dataDir: string,
  url: string,
): Promise<DemoSetup> {
  const agent =
    (await server.store.agents.getByName(demoAgentName)) ??
    (await server.agents.createAgent({
      name: demoAgentName,
      description:
        'The agent of `arden start --demo`: a support bot with CRM, refund and database tools.',
      defaultAction: 'allow',
    }));
  for (const key of await server.store.apiKeys.list(agent.id)) {
    await server.agents.revokeKey(key.id);
  }
  const { key } = await server.agents.createKey(agent.id, 'test', 'demo');
  const current = await server.policies.list(agent.id, 'test');
  const difference = diffPolicies(
    current.map((policy) => policy.definition as unknown as PolicyDefinition),
    demoPolicies,
  );
  if (difference.hasChanges) {
    await server.policies.saveSet(agent.id, 'test', demoPolicies, {
      message: 'Demo policies (arden start --demo)',
    });
  }
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'demo-agent.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        agent: agent.name,
        agent_id: agent.id,
        environment: 'test',
        api_key: key,
        api_url: url,
        note: 'A test key of the demo agent. Use it as ARDEN_API_KEY with ARDEN_API_URL to run your own agent against this server. It is replaced at every `arden start --demo`.',
      },
      null,
      2,
    )}\n`,
    { mode: 0o600 },
  );
  chmodSync(file, 0o600);
  return { agent, apiKey: key, file };
}

/** A running demo loop. */
export interface DemoLoop {
  /** Calls made so far. */
  readonly calls: number;
  stop(): Promise<void>;
}

const customers = ['cus_1042', 'cus_2077', 'cus_3310'];
const models = [
  { model: 'gpt-4o-mini', prompt: 850, completion: 120 },
  { model: 'claude-3-5-haiku-latest', prompt: 1200, completion: 240 },
];

function isPending(value: unknown): value is PendingApproval {
  return (
    typeof value === 'object' && value !== null && (value as PendingApproval).status === 'pending'
  );
}

/**
 * Runs a small support agent in this process, through `@arden/core` (no LLM): every
 * `intervalMs` it calls one of its tools — a CRM lookup (allowed), a small refund (allowed), a
 * large refund (held for approval, one at a time), `db.drop_table` (blocked), an email (no
 * policy: the agent's default) — and records token usage, in sessions of five calls.
 */
export function startDemoLoop(options: {
  url: string;
  apiKey: string;
  intervalMs?: number;
  print: (line: string) => void;
}): DemoLoop {
  const arden: Arden = createArden({
    apiKey: options.apiKey,
    apiUrl: options.url,
    logger: silentLogger,
    usageFlushIntervalMs: 1_000,
  });
  const print = options.print;
  let held: string | undefined;
  const tools = {
    lookup: arden.guardTool('crm.lookup_customer', async (input: { customer_id: string }) => ({
      id: input.customer_id,
      plan: 'pro',
    })),
    refund: arden.guardTool(
      'stripe.issue_refund',
      async (input: { amount: number; customer_id: string }) => ({
        refund: `re_${Math.random().toString(36).slice(2, 8)}`,
        amount: input.amount,
      }),
      {
        approvalMode: 'async',
        onApproval: (result, event) => {
          if (held === event.actionId) held = undefined;
          print(
            `stripe.issue_refund approved (${event.actionId}): refund ${JSON.stringify(result)} issued`,
          );
        },
        onDenial: (_error, event) => {
          if (held === event.actionId) held = undefined;
          print(
            `stripe.issue_refund denied (${event.actionId})${event.message ? `: ${event.message}` : ''}`,
          );
        },
      },
    ),
    dropTable: arden.guardTool('db.drop_table', async (_input: { table: string }) => 'dropped'),
    email: arden.guardTool('email.send', async (_input: { to: string; subject: string }) => 'sent'),
  };

  let step = 0;
  let calls = 0;
  let running: Promise<void> | undefined;
  let stopped = false;

  const describe = (tool: string, input: unknown, outcome: string) =>
    print(`${tool} ${JSON.stringify(input)} → ${outcome}`);

  const once = async () => {
    const session = `demo-session-${Math.floor(step / 5) + 1}`;
    const customer = customers[Math.floor(step / 5) % customers.length] as string;
    const kind = step % 5;
    step++;
    await withSession(session, async () => {
      try {
        if (kind === 0) {
          const input = { customer_id: customer };
          await tools.lookup(input);
          describe('crm.lookup_customer', input, 'allow');
        } else if (kind === 1) {
          const input = { amount: 20, customer_id: customer };
          await tools.refund(input);
          describe('stripe.issue_refund', input, 'allow (under 50)');
        } else if (kind === 2) {
          const input = { amount: held ? 35 : 120, customer_id: customer };
          const result = await tools.refund(input);
          if (isPending(result)) {
            held = result.actionId;
            describe(
              'stripe.issue_refund',
              input,
              `held for approval (action ${result.actionId}). Approve or deny it in the dashboard, or: arden approvals approve ${result.actionId}`,
            );
          } else describe('stripe.issue_refund', input, 'allow (under 50)');
        } else if (kind === 3) {
          const input = { table: 'customers' };
          await tools.dropTable(input);
          describe('db.drop_table', input, 'allow (unexpected!)');
        } else {
          const input = { to: `${customer}@example.com`, subject: 'Your refund' };
          await tools.email(input);
          describe('email.send', input, "allow (no policy: the agent's default action)");
        }
      } catch (error) {
        if (PolicyDeniedError.isInstance(error)) {
          describe(
            error.toolName,
            kind === 3 ? { table: 'customers' } : {},
            `${error.reason}${error.notes ? `: ${error.notes}` : ''}`,
          );
        } else {
          print(`demo call failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      const usage = models[step % models.length] as (typeof models)[number];
      arden.logTokenUsage({
        model: usage.model,
        promptTokens: usage.prompt + (step % 7) * 40,
        completionTokens: usage.completion + (step % 3) * 25,
      });
    });
    calls++;
  };

  const timer = setInterval(() => {
    if (stopped || running) return;
    running = once().finally(() => {
      running = undefined;
    });
  }, options.intervalMs ?? 3_000);
  // The first call at once, so the log is not empty when the dashboard opens.
  running = once().finally(() => {
    running = undefined;
  });

  return {
    get calls() {
      return calls;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      // A held refund may be waiting (long-poll) for minutes: do not wait for it to be decided.
      const grace = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
      await Promise.race([running, grace(2_000)]);
      await Promise.race([arden.shutdown(), grace(500)]);
    },
  };
}
