import type { PolicyDecision } from '@arden/policy';
import type { Logger } from '../logger';
import type { ActionRecord, NewAction, Store, UsageRecord } from '../store';
import type { WebhookSender } from '../webhooks/sender';
import { ServerMetrics } from './metrics';
import { ServerTracing } from './tracing';

/**
 * Telemetry out of the server: OpenTelemetry spans (tracing.ts, off unless the OTLP variables
 * are set) and Prometheus metrics (metrics.ts, served at `/metrics`). The routes and services
 * call the few methods here around the work they already do.
 */
export class Telemetry {
  private constructor(
    readonly tracing: ServerTracing,
    readonly metrics: ServerMetrics,
  ) {}

  /** Telemetry of one server: metrics always, traces when the environment asks for them. */
  static async create(
    store: Store,
    logger: Logger,
    serverVersion: string,
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<Telemetry> {
    let tracing: ServerTracing;
    try {
      tracing = await ServerTracing.fromEnvironment(env, logger, serverVersion);
    } catch (error) {
      // Tracing is an aid, never a reason not to start: say why and go on without it.
      logger.error('Could not start OpenTelemetry tracing; the server runs without it', { error });
      tracing = ServerTracing.off();
    }
    return new Telemetry(tracing, new ServerMetrics(store));
  }

  /** Policy evaluation of one check, as a child span of its request. */
  policyEvaluation(fn: () => Promise<PolicyDecision>): Promise<PolicyDecision> {
    return this.tracing.inSpan('arden.policy.evaluate', fn, (decision) => ({
      'arden.decision': decision.effect,
      ...(decision.policy ? { 'arden.policy': decision.policy.name } : {}),
      ...(decision.ruleIndex === undefined || decision.ruleIndex === null
        ? {}
        : { 'arden.rule': decision.ruleIndex }),
    }));
  }

  /** The commit of a check's action row: a child span and the commit latency histogram. */
  async storeCommit<T>(fn: () => Promise<T>): Promise<T> {
    const stop = this.metrics.storeCommit.startTimer();
    try {
      return await this.tracing.inSpan('arden.store.commit', fn);
    } finally {
      stop();
    }
  }

  /** Counts an answered check and remembers a held one's trace for its decision. */
  checked(action: NewAction, startedAt: number): void {
    this.metrics.checks.inc({ decision: action.decision, environment: action.environment });
    this.metrics.checkDuration.observe(
      { decision: action.decision },
      (performance.now() - startedAt) / 1000,
    );
    this.tracing.annotate({
      'arden.decision': action.decision,
      'arden.action_id': action.id,
      'gen_ai.tool.name': action.toolName,
    });
    if (action.decision === 'requires_approval') this.tracing.rememberAction(action.id);
  }

  /** A decision on a held action (an approver's or the timeout's), as a span and a latency. */
  async approvalDecision<T extends ActionRecord | undefined>(
    actionId: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    const action = await this.tracing.forAction(actionId, 'arden.approval.decide', fn, (decided) =>
      decided ? { 'arden.approval.status': decided.status } : {},
    );
    if (action && action.status !== 'pending' && action.decidedAt !== null) {
      this.metrics.approvalDecision.observe(
        { status: action.status },
        Math.max(0, (action.decidedAt - action.createdAt) / 1000),
      );
    }
    return action;
  }

  /** Recorded usage, counted as cost by model. */
  usageRecorded(records: readonly UsageRecord[]): void {
    for (const record of records) {
      if (record.costUsd > 0) this.metrics.usageCost.inc({ model: record.model }, record.costUsd);
    }
  }

  /** Wraps the webhook sender: each attempt is a span (child of the held check) and a count. */
  webhookSender(send: WebhookSender): WebhookSender {
    return async (request) => {
      const actionId = actionIdOf(request.body);
      const run = async () => {
        try {
          const response = await send(request);
          const delivered = response.status >= 200 && response.status < 300;
          this.metrics.webhookDeliveries.inc({ outcome: delivered ? 'delivered' : 'rejected' });
          return response;
        } catch (error) {
          this.metrics.webhookDeliveries.inc({ outcome: 'error' });
          throw error;
        }
      };
      if (!this.tracing.enabled || actionId === undefined) return run();
      return this.tracing.forAction(
        actionId,
        'arden.webhook.deliver',
        run,
        (response) => ({
          'http.response.status_code': response.status,
          'arden.webhook.event_id': String(request.headers['x-arden-event-id'] ?? ''),
        }),
        true,
      );
    };
  }

  /** Exports the spans not yet sent and stops. */
  close(): Promise<void> {
    return this.tracing.close();
  }
}

function actionIdOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { action_id?: unknown } | null;
    return typeof parsed?.action_id === 'string' ? parsed.action_id : undefined;
  } catch {
    return undefined;
  }
}
