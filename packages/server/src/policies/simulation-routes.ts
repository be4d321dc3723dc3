import {
  compilePolicies,
  PolicyCompileError,
  type PolicyDecision,
  type PolicyDefinition,
  shellParserSettled,
  validatePolicies,
} from '@arden/policy';
import { agentOf, parseTime, v1 } from '../admin/route-helpers';
import { iso } from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import { ArdenServerError, ValidationError } from '../errors';
import { sendJson } from '../http/respond';
import { simulationBudgetMs } from '../reads/reader';
import {
  parseSince,
  type SimulatedFlip,
  type SimulationSummary,
  simulateHistory,
} from './simulation';
import * as schemas from './simulation-schema';

// The admin API of the simulation over real history (a chosen window, up to the whole log).

function decisionView(decision: PolicyDecision) {
  return {
    decision: decision.effect,
    reason: decision.reason,
    policy: decision.policy?.name ?? null,
    rule_index: decision.ruleIndex ?? null,
    explanation: decision.explanation,
  };
}

function flipView(flip: SimulatedFlip) {
  return {
    action_id: flip.action.id,
    tool_name: flip.action.toolName,
    session_id: flip.action.sessionId,
    created_at: iso(flip.action.createdAt) as string,
    logged: flip.logged,
    current: decisionView(flip.current),
    draft: decisionView(flip.draft),
    vs_current: flip.vsCurrent ?? null,
    vs_logged: flip.vsLogged ?? null,
  };
}

function counts(summary: SimulationSummary) {
  return {
    total: summary.total,
    scanned: summary.scanned,
    evaluated: summary.evaluated,
    sampled: summary.sampled,
    vs_current: summary.vsCurrent,
    vs_logged: summary.vsLogged,
  };
}

const ndjson = 'application/x-ndjson';

/** The simulation over a window of the log. */
export const simulationRoutes: readonly AdminRoute[] = [
  route({
    method: 'POST',
    path: `${v1}/agents/:agent_id/policies/:environment/simulate/history`,
    access: 'viewer',
    tag: 'policies',
    summary:
      'What a draft set would change over a window of the real log, against the current set and the log',
    description:
      'Replays every logged call of the window (or an even `sample`), optionally of one `tool`, through the draft and through the current set, and counts the flips by kind (`allow->requires_approval`, …) against both. With `Accept: application/x-ndjson` the answer streams as lines: `{"type":"start","total"}`, `{"type":"progress",…counts}` after each page, `{"type":"flip",…}` per listed flip, then `{"type":"summary",…}` (or `{"type":"error","code","error"}`). Otherwise one JSON object. Runs on the admin reader, off the check path; nothing is saved.',
    params: { agent_id: 'Agent id or name.', environment: 'test or live.' },
    body: schemas.historySimulationBody,
    response: schemas.historySimulationResponse,
    stream: 'ndjson',
    async handler(call) {
      const agent = await agentOf(call);
      const environment = call.params.environment;
      if (environment !== 'test' && environment !== 'live') {
        throw new ValidationError(
          `The environment in the path must be "test" or "live"; got "${String(environment).slice(0, 20)}".`,
          'environment',
        );
      }
      const body = call.body;
      const definitions = body.policies as unknown as PolicyDefinition[];
      const issues = validatePolicies(definitions);
      if (issues.length > 0) throw new PolicyCompileError(issues);
      const draft = compilePolicies(definitions);
      await shellParserSettled();
      const server = call.services.server;
      const now = server.clock();
      const from = parseTime(body.from, 'from') ?? parseSince(body.since ?? '30d', now, 'since');
      const to = parseTime(body.to, 'to') ?? now;
      if (from !== undefined && from > to) {
        throw new ValidationError(
          'The window starts after it ends: from/since must be before to.',
          'from',
        );
      }
      const current = await server.policies.compiled(agent.id, environment);
      const reads = await call.services.reader.begin(
        simulationBudgetMs(call.services.reader.budgetMs),
      );
      const maxFlips = body.max_flips ?? 1_000;
      const flips: ReturnType<typeof flipView>[] = [];
      const header = {
        agent_id: agent.id,
        environment,
        from: from === undefined ? null : (iso(from) as string),
        to: iso(to) as string,
        tool: body.tool ?? null,
      };
      const { request, response } = call.context;
      const streaming = (request.headers.accept ?? '').includes(ndjson);
      let gone = false;
      response.on('close', () => {
        gone = !response.writableFinished;
      });
      const write = async (line: unknown) => {
        if (gone) return;
        if (!response.headersSent) {
          response.writeHead(200, {
            'content-type': `${ndjson}; charset=utf-8`,
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
          });
        }
        if (!response.write(`${JSON.stringify(line)}\n`)) {
          await new Promise<void>((resolve) => {
            response.once('drain', resolve);
            response.once('close', resolve);
          });
        }
      };
      const options = {
        reads,
        agent,
        environment,
        draft,
        current: current.set,
        draftDefault: body.default_action ?? agent.defaultAction,
        currentDefault: agent.defaultAction,
        from,
        to,
        tool: body.tool,
        sample: body.sample,
        cancelled: () => gone,
      } as const;
      if (!streaming) {
        let flipped = 0;
        const summary = await simulateHistory({
          ...options,
          onFlip(flip) {
            flipped++;
            if (flips.length < maxFlips) flips.push(flipView(flip));
          },
        });
        sendJson(response, 200, {
          ...header,
          ...counts(summary),
          flips,
          flips_truncated: flipped > flips.length,
        });
        return undefined as never;
      }
      let listed = 0;
      try {
        const summary = await simulateHistory({
          ...options,
          onStart: (total) =>
            write({ type: 'start', ...header, total, sample: body.sample ?? null }),
          onProgress: (progress) => write({ type: 'progress', ...counts(progress) }),
          async onFlip(flip) {
            if (listed >= maxFlips) return;
            listed++;
            await write({ type: 'flip', ...flipView(flip) });
          },
        });
        await write({ type: 'summary', ...header, ...counts(summary), flips_listed: listed });
      } catch (error) {
        // Once the stream has started, a failure is its last line (the status is already sent).
        if (!response.headersSent) throw error;
        const known = ArdenServerError.isInstance(error);
        server.logger[known ? 'info' : 'error']('A policy simulation stopped', { error });
        await write({
          type: 'error',
          code: known ? error.code : 'internal_error',
          status: known ? error.status : 500,
          error: known
            ? error.message
            : 'The simulation failed on the server; the server log has the details. Try a narrower window.',
        });
      }
      response.end();
      return undefined as never;
    },
  }),
];
