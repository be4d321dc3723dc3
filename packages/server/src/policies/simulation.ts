import {
  type CompiledPolicySet,
  type Effect,
  evaluate,
  type FlipKind,
  type PolicyDecision,
} from '@arden/policy';
import type { Environment } from '../crypto';
import { ValidationError } from '../errors';
import type { AdminReads } from '../reads/reader';
import type { ActionFilter, ActionRecord, AgentRecord } from '../store';
import { loggedArguments, loggedTextLength } from './service';
import { MemoryReplay, readsMemory, readsSpend, SpendReplay } from './simulation-memory';

// A draft policy set replayed over a window of the real log, up to all of it: every logged call
// (or an even sample) is decided by the draft and by the CURRENT set, and compared with both the
// current decision and the logged one. Rows come from the admin reader (off the check path), a
// page at a time; the evaluation yields to the event loop every few milliseconds, so checks keep
// their pace while a long simulation runs.

// A flip's kind (`allow->requires_approval`), the six kinds and their parser live in the policy
// package, which reads a policy file's `simulation.forbid` with them.
export { type FlipKind, flipKinds, parseFlipKind } from '@arden/policy';

/** One call whose decision the draft changes, against the current set or the log. */
export interface SimulatedFlip {
  action: ActionRecord;
  logged: Effect;
  current: PolicyDecision;
  draft: PolicyDecision;
  /** Kind against the current set, when the draft differs from it. */
  vsCurrent: FlipKind | undefined;
  /** Kind against the logged decision, when the draft differs from it. */
  vsLogged: FlipKind | undefined;
}

/** Flips counted by kind. */
export interface FlipSummary {
  changed: number;
  kinds: Partial<Record<FlipKind, number>>;
}

export interface SimulationSummary {
  /** Rows in the window (after the tool filter). */
  total: number;
  /** Rows read. */
  scanned: number;
  /** Rows decided (all of them, or the sample). */
  evaluated: number;
  sampled: boolean;
  vsCurrent: FlipSummary;
  vsLogged: FlipSummary;
}

export interface SimulationOptions {
  reads: AdminReads;
  agent: AgentRecord;
  environment: Environment;
  draft: CompiledPolicySet;
  /** The saved set, or undefined when it does not compile (its decisions are then blocks). */
  current: CompiledPolicySet | undefined;
  draftDefault: Effect;
  currentDefault: Effect;
  from?: number;
  to?: number;
  tool?: string;
  /** Decide about this many calls spread evenly over the window (default: every call). */
  sample?: number;
  onStart?(total: number): void | Promise<void>;
  onProgress?(summary: SimulationSummary): void | Promise<void>;
  onFlip?(flip: SimulatedFlip): void | Promise<void>;
  /** True once the caller went away: the simulation stops. */
  cancelled?(): boolean;
}

const pageSize = 500;
const sliceMs = 8;

const units: Record<string, number> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `30d`, `12h`, `90m`, `2w` before `now`, or an ISO time / epoch ms; `all` for the whole log. */
export function parseSince(text: string, now: number, field = 'since'): number | undefined {
  const value = text.trim();
  if (value === 'all' || value === '') return undefined;
  const relative = /^(\d{1,6})\s*([mhdw])$/i.exec(value);
  if (relative)
    return now - Number(relative[1]) * (units[(relative[2] as string).toLowerCase()] as number);
  const time = /^\d{1,16}$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(time)) {
    throw new ValidationError(
      `${field} must be a duration before now (30d, 12h, 90m, 2w), an ISO 8601 time, or "all"; got "${value.slice(0, 40)}".`,
      field,
    );
  }
  return time;
}

function decide(
  set: CompiledPolicySet | undefined,
  action: ActionRecord,
  agent: AgentRecord,
  environment: Environment,
  defaultAction: Effect,
  replay: MemoryReplay | undefined,
): PolicyDecision {
  if (!set) {
    return {
      effect: 'block',
      reason: 'policy_error',
      errors: [],
      explanation: 'The saved policy set does not compile, so every call is blocked.',
    } as PolicyDecision;
  }
  try {
    return evaluate(
      set,
      {
        tool: action.toolName,
        args: loggedArguments(action),
        session: action.sessionId,
        agent: { id: agent.id, name: agent.name },
        environment,
        now: new Date(action.createdAt),
        memory: replay?.values(set, action),
        textLength: loggedTextLength(action),
      },
      defaultAction,
    );
  } catch (error) {
    return {
      effect: 'block',
      reason: 'policy_error',
      errors: [],
      explanation: `The policy engine failed on this call, so it would be blocked: ${error instanceof Error ? error.message : String(error)}`,
    } as PolicyDecision;
  }
}

function count(summary: FlipSummary, kind: FlipKind | undefined): void {
  if (!kind) return;
  summary.changed++;
  summary.kinds[kind] = (summary.kinds[kind] ?? 0) + 1;
}

/** Whether a tool is in the simulation's `tool` filter (a name, or a prefix ending in `*`). */
function toolSelected(selected: string | undefined, tool: string): boolean {
  if (!selected) return true;
  return selected.endsWith('*') ? tool.startsWith(selected.slice(0, -1)) : tool === selected;
}

const yieldToChecks = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Replays the window through the draft and the current set; resolves with the summary. */
export async function simulateHistory(options: SimulationOptions): Promise<SimulationSummary> {
  const { reads, agent, environment } = options;
  const filter: ActionFilter = {
    agentId: agent.id,
    environment,
    tool: options.tool,
    from: options.from,
    to: options.to,
  };
  const total = await reads.actions.count(filter);
  await options.onStart?.(total);
  const sample = options.sample;
  const sampled = sample !== undefined && sample < total;
  // Every `stride`-th row (in log order) when sampling: an even spread over the window.
  const stride = sampled ? total / sample : 1;
  let nextPick = 0;
  const summary: SimulationSummary = {
    total,
    scanned: 0,
    evaluated: 0,
    sampled,
    vsCurrent: { changed: 0, kinds: {} },
    vsLogged: { changed: 0, kinds: {} },
  };
  // Memory inputs (session.calls…) are replayed from the start of the log, every tool, so each
  // call of the window sees the calls before it (simulation-memory.ts).
  // Spend (session.cost_usd…) from the agent's usage, replayed alongside in the same order.
  const spend = readsSpend(options.draft, options.current)
    ? new SpendReplay((cursor) =>
        reads.usage.list(
          {
            agentId: agent.id,
            environment,
            ...(options.to === undefined ? {} : { to: options.to }),
          },
          { cursor, limit: pageSize, order: 'asc' },
        ),
      )
    : undefined;
  const replay = readsMemory(options.draft, options.current) ? new MemoryReplay(spend) : undefined;
  const read: ActionFilter = replay ? { agentId: agent.id, environment, to: options.to } : filter;
  const inWindow = (action: ActionRecord) =>
    (options.from === undefined || action.createdAt >= options.from) &&
    toolSelected(options.tool, action.toolName);
  let cursor: string | undefined;
  let sliceStart = Date.now();
  do {
    if (options.cancelled?.()) break;
    reads.check();
    const page = await reads.actions.list(read, { cursor, limit: pageSize, order: 'asc' });
    for (const action of page.items) {
      if (replay && !inWindow(action)) {
        replay.record(action);
        continue;
      }
      const index = summary.scanned++;
      if (sampled) {
        if (index < nextPick || summary.evaluated >= (sample as number)) {
          replay?.record(action);
          continue;
        }
        nextPick = Math.floor((summary.evaluated + 1) * stride);
      }
      summary.evaluated++;
      await replay?.advance(action.createdAt);
      const draft = decide(options.draft, action, agent, environment, options.draftDefault, replay);
      const current = decide(
        options.current,
        action,
        agent,
        environment,
        options.currentDefault,
        replay,
      );
      replay?.record(action);
      const vsCurrent =
        draft.effect === current.effect
          ? undefined
          : (`${current.effect}->${draft.effect}` as FlipKind);
      const vsLogged =
        draft.effect === action.decision
          ? undefined
          : (`${action.decision}->${draft.effect}` as FlipKind);
      count(summary.vsCurrent, vsCurrent);
      count(summary.vsLogged, vsLogged);
      if (vsCurrent || vsLogged) {
        await options.onFlip?.({
          action,
          logged: action.decision,
          current,
          draft,
          vsCurrent,
          vsLogged,
        });
      }
      if (Date.now() - sliceStart >= sliceMs) {
        await yieldToChecks();
        sliceStart = Date.now();
      }
    }
    cursor = page.nextCursor;
    await options.onProgress?.(summary);
    await yieldToChecks();
    sliceStart = Date.now();
  } while (cursor);
  return summary;
}
