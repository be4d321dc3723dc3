import {
  compilePolicies,
  diffPolicies,
  evaluate,
  formatPolicyDiff,
  PolicyCompileError,
  type PolicyDecision,
  type PolicyDefinition,
  shellParserSettled,
  validatePolicies,
} from '@arden/policy';
import { agentOf, collectActions, emailsOf, v1 } from '../admin/route-helpers';
import { iso, policyVersionView } from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import type { Environment } from '../crypto';
import { NotFoundError, ValidationError } from '../errors';
import type { ActionRecord } from '../store';
import * as schemas from './schema';
import { loggedArguments, loggedTextLength } from './service';

// The admin API of policies: the current set, its versions, validate, simulate, diff and rollback.

function environmentParam(value: string | undefined): Environment {
  if (value !== 'test' && value !== 'live') {
    throw new ValidationError(
      `The environment in the path must be "test" or "live"; got "${String(value).slice(0, 20)}".`,
      'environment',
    );
  }
  return value;
}

function definitionsOf(body: { policies: Record<string, unknown>[] }): PolicyDefinition[] {
  return body.policies as unknown as PolicyDefinition[];
}

/** Refuses a draft that does not validate, with every issue (400, with line and column). */
function assertValid(definitions: PolicyDefinition[]): void {
  const issues = validatePolicies(definitions);
  if (issues.length > 0) throw new PolicyCompileError(issues);
}

function loggedDecision(action: ActionRecord) {
  return {
    decision: action.decision,
    reason: action.reason,
    policy: action.policy?.policy?.name ?? null,
    rule_index: action.policy?.ruleIndex ?? null,
    explanation: action.policy?.explanation ?? null,
  };
}

function draftDecision(decision: PolicyDecision) {
  return {
    decision: decision.effect,
    reason: decision.reason,
    policy: decision.policy?.name ?? null,
    rule_index: decision.ruleIndex ?? null,
    explanation: decision.explanation,
  };
}

/** Policy sets: read, save, versions, validate, simulate, diff and rollback. */
export const policyRoutes: readonly AdminRoute[] = [
  route({
    method: 'GET',
    path: `${v1}/agents/:agent_id/policies/:environment`,
    access: 'viewer',
    tag: 'policies',
    summary: 'The current policy set of an agent in an environment',
    params: { agent_id: 'Agent id or name.', environment: 'test or live.' },
    response: schemas.policySet,
    async handler(call) {
      const agent = await agentOf(call);
      const environment = environmentParam(call.params.environment);
      const policies = call.services.server.policies;
      const [current, latest] = await Promise.all([
        policies.list(agent.id, environment),
        policies.versions(agent.id, environment, { limit: 1 }),
      ]);
      const version = latest[0];
      return {
        agent_id: agent.id,
        environment,
        version: version?.version ?? 0,
        policies: current.map((policy) => policy.definition),
        updated_at: iso(version?.createdAt),
        updated_by: version?.createdBy ?? null,
      };
    },
  }),
  route({
    method: 'PUT',
    path: `${v1}/agents/:agent_id/policies/:environment`,
    access: 'admin',
    tag: 'policies',
    summary: 'Replace the whole policy set (a new version)',
    description:
      'The set is compiled first: a policy that does not compile is refused with 400 and `issues` (policy, path, and line and column inside a CEL condition). Every save is a new version recording who, when and what changed.',
    params: { agent_id: 'Agent id or name.', environment: 'test or live.' },
    body: schemas.policyPutBody,
    response: schemas.policyVersion,
    async handler(call) {
      const agent = await agentOf(call);
      const environment = environmentParam(call.params.environment);
      const definitions = definitionsOf(call.body);
      assertValid(definitions);
      const user = call.user;
      const saved = await call.services.server.policies.saveSet(
        agent.id,
        environment,
        definitions,
        { createdBy: user.id, message: call.body.message ?? null },
      );
      return policyVersionView(saved, user.email);
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/agents/:agent_id/policies/:environment/versions`,
    access: 'viewer',
    tag: 'policies',
    summary: 'Policy set versions, newest first',
    params: { agent_id: 'Agent id or name.', environment: 'test or live.' },
    query: schemas.versionQuery,
    response: schemas.versionPage,
    async handler(call) {
      const agent = await agentOf(call);
      const environment = environmentParam(call.params.environment);
      const limit = call.query.limit ?? 50;
      const versions = await call.services.server.policies.versions(agent.id, environment, {
        limit: limit + 1,
        before: call.query.before,
      });
      const items = versions.slice(0, limit);
      const emails = await emailsOf(
        call,
        items.map((version) => version.createdBy),
      );
      const last = items[items.length - 1];
      return {
        items: items.map((version) =>
          policyVersionView(
            version,
            version.createdBy ? (emails.get(version.createdBy) ?? null) : null,
          ),
        ),
        next_cursor: versions.length > limit && last ? String(last.version) : null,
      };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/agents/:agent_id/policies/:environment/versions/:version`,
    access: 'viewer',
    tag: 'policies',
    summary: 'One version of a policy set',
    params: {
      agent_id: 'Agent id or name.',
      environment: 'test or live.',
      version: 'Version number.',
    },
    response: schemas.policyVersion,
    async handler(call) {
      const agent = await agentOf(call);
      const environment = environmentParam(call.params.environment);
      const number = Number(call.params.version);
      const version = Number.isInteger(number)
        ? await call.services.server.store.policies.getVersion(agent.id, environment, number)
        : undefined;
      if (!version) {
        throw new NotFoundError(
          `Agent ${agent.name} has no policy version ${String(call.params.version).slice(0, 20)} in ${environment}.`,
        );
      }
      const emails = await emailsOf(call, [version.createdBy]);
      return policyVersionView(
        version,
        version.createdBy ? (emails.get(version.createdBy) ?? null) : null,
      );
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/agents/:agent_id/policies/:environment/validate`,
    access: 'viewer',
    tag: 'policies',
    summary: 'Check a draft policy set without saving it',
    description: 'Answers 200 with `valid` and every issue (with line and column for CEL).',
    params: { agent_id: 'Agent id or name.', environment: 'test or live.' },
    body: schemas.policyDraftBody,
    response: schemas.validationResponse,
    async handler(call) {
      await agentOf(call);
      environmentParam(call.params.environment);
      const issues = validatePolicies(call.body.policies);
      return { valid: issues.length === 0, issues };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/agents/:agent_id/policies/:environment/simulate`,
    access: 'viewer',
    tag: 'policies',
    summary: 'What a draft set would have decided on the latest logged actions',
    description:
      "Replays the last `limit` actions of this agent and environment through the draft (with the agent's default action, or `default_action`) and compares with the logged decisions. Nothing is saved.",
    params: { agent_id: 'Agent id or name.', environment: 'test or live.' },
    body: schemas.policySimulateBody,
    response: schemas.simulationResponse,
    async handler(call) {
      const agent = await agentOf(call);
      const environment = environmentParam(call.params.environment);
      const definitions = definitionsOf(call.body);
      assertValid(definitions);
      const set = compilePolicies(definitions);
      await shellParserSettled();
      const defaultAction = call.body.default_action ?? agent.defaultAction;
      const { actions } = await collectActions(
        call,
        { agentId: agent.id, environment },
        call.body.limit ?? 100,
        'desc',
      );
      let changed = 0;
      const items = actions.map((action) => {
        let decision: PolicyDecision;
        try {
          decision = evaluate(
            set,
            {
              tool: action.toolName,
              args: loggedArguments(action),
              session: action.sessionId,
              agent: { id: agent.id, name: agent.name },
              environment,
              now: new Date(action.createdAt),
              textLength: loggedTextLength(action),
            },
            defaultAction,
          );
        } catch (error) {
          decision = {
            effect: 'block',
            reason: 'policy_error',
            errors: [],
            explanation: `The policy engine failed on this call, so it would be blocked: ${error instanceof Error ? error.message : String(error)}`,
          };
        }
        const differs = decision.effect !== action.decision;
        if (differs) changed++;
        return {
          action_id: action.id,
          tool_name: action.toolName,
          session_id: action.sessionId,
          created_at: iso(action.createdAt),
          old: loggedDecision(action),
          new: draftDecision(decision),
          changed: differs,
        };
      });
      return { agent_id: agent.id, environment, evaluated: items.length, changed, items };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/agents/:agent_id/policies/:environment/diff`,
    access: 'viewer',
    tag: 'policies',
    summary: 'What a draft set changes against the current set',
    params: { agent_id: 'Agent id or name.', environment: 'test or live.' },
    body: schemas.policyDraftBody,
    response: schemas.policyDiffResponse,
    async handler(call) {
      const agent = await agentOf(call);
      const environment = environmentParam(call.params.environment);
      const policies = call.services.server.policies;
      const [current, versions] = await Promise.all([
        policies.list(agent.id, environment),
        policies.versions(agent.id, environment, { limit: 1 }),
      ]);
      const diff = diffPolicies(
        current.map((policy) => policy.definition as unknown as PolicyDefinition),
        definitionsOf(call.body),
      );
      return {
        current_version: versions[0]?.version ?? 0,
        has_changes: diff.hasChanges,
        added: diff.added.map((policy) => policy.name),
        removed: diff.removed.map((policy) => policy.name),
        changed: diff.changed.map((change) => ({ name: change.name, changes: change.changes })),
        unchanged: diff.unchanged,
        text: formatPolicyDiff(diff),
      };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/agents/:agent_id/policies/:environment/rollback`,
    access: 'admin',
    tag: 'policies',
    summary: "Restore an earlier version's set (as a new version)",
    params: { agent_id: 'Agent id or name.', environment: 'test or live.' },
    body: schemas.policyRollbackBody,
    response: schemas.policyVersion,
    async handler(call) {
      const agent = await agentOf(call);
      const environment = environmentParam(call.params.environment);
      const user = call.user;
      const saved = await call.services.server.policies.rollback(
        agent.id,
        environment,
        call.body.version,
        { createdBy: user.id, message: call.body.message ?? null },
      );
      return policyVersionView(saved, user.email);
    },
  }),
];
