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
import type { Environment } from '../crypto';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors';
import { openApiDocument } from '../openapi';
import { loggedArguments } from '../services/policies';
import type {
  ActionFilter,
  ActionRecord,
  ActionStatus,
  AgentRecord,
  SessionSummary,
  UsageRecord,
} from '../store';
import * as schemas from './schemas';
import {
  actionView,
  agentView,
  aggregateView,
  apiKeyView,
  deliveryDetailView,
  deliveryView,
  iso,
  policyVersionView,
  sessionView,
  tokenView,
  usageView,
  userView,
} from './serialize';
import { type AdminCall, type AdminRoute, route } from './table';

const v1 = '/api/v1';
const actionStatuses: readonly ActionStatus[] = [
  'pending',
  'approved',
  'denied',
  'completed',
  'expired',
];

/** Parses an ISO 8601 time or epoch milliseconds. */
export function parseTime(value: string | undefined, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const time = /^\d{1,16}$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(time)) {
    throw new ValidationError(
      `${field} must be an ISO 8601 time (2026-01-31T12:00:00Z) or milliseconds since the epoch; got "${value.slice(0, 50)}".`,
      field,
    );
  }
  return time;
}

function environmentParam(value: string | undefined): Environment {
  if (value !== 'test' && value !== 'live') {
    throw new ValidationError(
      `The environment in the path must be "test" or "live"; got "${String(value).slice(0, 20)}".`,
      'environment',
    );
  }
  return value;
}

async function agentOf(call: AdminCall<unknown, unknown>): Promise<AgentRecord> {
  return call.services.server.agents.getAgent(call.params.agent_id as string);
}

async function agentIdFilter(
  call: AdminCall<unknown, unknown>,
  agent: string | undefined,
): Promise<string | undefined> {
  if (agent === undefined || agent === '') return undefined;
  return (await call.services.server.agents.getAgent(agent)).id;
}

function nextCursor(cursor: string | undefined): string | null {
  return cursor ?? null;
}

async function emailsOf(call: AdminCall<unknown, unknown>, ids: (string | null)[]) {
  return call.services.queries.userEmails(ids.filter((id): id is string => id !== null));
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

async function collectActions(
  call: AdminCall<unknown, unknown>,
  filter: ActionFilter,
  count: number,
  order: 'asc' | 'desc',
): Promise<{ actions: ActionRecord[]; more: boolean }> {
  const actions: ActionRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await call.services.server.store.actions.list(filter, {
      cursor,
      limit: Math.min(500, count - actions.length),
      order,
    });
    actions.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && actions.length < count);
  return { actions, more: cursor !== undefined };
}

async function collectUsage(
  call: AdminCall<unknown, unknown>,
  sessionId: string,
  filter: { agentId?: string; environment?: Environment },
  count: number,
): Promise<{ usage: UsageRecord[]; more: boolean }> {
  const usage: UsageRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await call.services.server.store.usage.list(
      { ...filter, sessionId },
      { cursor, limit: Math.min(500, count - usage.length) },
    );
    usage.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && usage.length < count);
  // The listing is newest first: the oldest are the ones left out when there are more.
  return { usage: usage.reverse(), more: cursor !== undefined };
}

const sessionTimelineLimit = 2_000;

/**
 * Every admin API route: the single declarative table that the router, the role checks, the
 * authorization tests and the OpenAPI document are built from.
 */
export const adminRoutes: readonly AdminRoute[] = [
  // -------------------------------------------------------------------------------------------
  // Auth
  route({
    method: 'POST',
    path: `${v1}/auth/login`,
    access: 'public',
    tag: 'auth',
    summary: 'Log in with email and password',
    description:
      'Sets the session cookie (HttpOnly, SameSite=Strict; Secure over HTTPS). Failed logins are limited per email and per client address (429 with Retry-After).',
    body: schemas.loginBody,
    response: schemas.loginResponse,
    async handler(call) {
      const result = await call.services.auth.login(
        call.context,
        call.body.email,
        call.body.password,
      );
      call.header('set-cookie', result.cookie);
      return { user: userView(result.user), expires_at: iso(result.expiresAt) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/auth/logout`,
    access: 'public',
    tag: 'auth',
    summary: 'Log out (end the browser session and clear its cookie)',
    response: schemas.okBody,
    async handler(call) {
      call.header('set-cookie', await call.services.auth.logout(call.context, call.principal));
      return { ok: true as const };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/me`,
    access: 'viewer',
    tag: 'auth',
    summary: 'The logged-in user and what they may do',
    response: schemas.meResponse,
    async handler(call) {
      const user = call.user;
      return {
        user: userView(user),
        authenticated_by: call.principal?.via ?? 'session',
        permissions: { decide: user.role !== 'viewer', administer: user.role === 'admin' },
      };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/me/password`,
    access: 'viewer',
    tag: 'auth',
    summary: 'Change your own password',
    description: 'Ends your other browser sessions.',
    body: schemas.passwordChangeBody,
    response: schemas.okBody,
    async handler(call) {
      await call.services.users.changePassword(
        call.user.id,
        call.body.current_password,
        call.body.new_password,
        call.principal?.sessionHash,
      );
      return { ok: true as const };
    },
  }),

  // -------------------------------------------------------------------------------------------
  // Users
  route({
    method: 'GET',
    path: `${v1}/users`,
    access: 'admin',
    tag: 'users',
    summary: 'List users',
    response: schemas.userList,
    async handler(call) {
      return { items: (await call.services.server.store.users.list()).map(userView) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/users`,
    access: 'admin',
    tag: 'users',
    summary: 'Create a user',
    description:
      'Without `password`, a one-time password is generated and returned once; give it to the user, who should change it (POST /api/v1/me/password).',
    body: schemas.userCreateBody,
    response: schemas.userCreatedResponse,
    status: 201,
    async handler(call) {
      const created = await call.services.users.createUser({
        email: call.body.email,
        role: call.body.role,
        name: call.body.name ?? null,
        password: call.body.password ?? null,
      });
      return created.generatedPassword === undefined
        ? { user: userView(created.user) }
        : { user: userView(created.user), password: created.generatedPassword };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/users/:user_id`,
    access: 'admin',
    tag: 'users',
    summary: 'Get a user',
    params: { user_id: 'User id or email.' },
    response: schemas.user,
    async handler(call) {
      return userView(await call.services.users.getUser(call.params.user_id as string));
    },
  }),
  route({
    method: 'PATCH',
    path: `${v1}/users/:user_id`,
    access: 'admin',
    tag: 'users',
    summary: "Change a user's role or name, or disable or enable them",
    description:
      'Disabling ends their sessions and stops their tokens. The last enabled admin cannot be demoted or disabled (409).',
    params: { user_id: 'User id or email.' },
    body: schemas.userUpdateBody,
    response: schemas.user,
    async handler(call) {
      return userView(
        await call.services.users.updateUser(call.params.user_id as string, call.body),
      );
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/users/:user_id/reset-password`,
    access: 'admin',
    tag: 'users',
    summary: "Reset a user's password to a generated one (returned once)",
    params: { user_id: 'User id or email.' },
    response: schemas.userCreatedResponse,
    async handler(call) {
      const reset = await call.services.users.resetPassword(call.params.user_id as string);
      return { user: userView(reset.user), password: reset.password };
    },
  }),

  // -------------------------------------------------------------------------------------------
  // Admin tokens
  route({
    method: 'GET',
    path: `${v1}/tokens`,
    access: 'viewer',
    tag: 'tokens',
    summary: 'List your admin tokens (admins: `?all=true` for everyone’s)',
    query: schemas.tokenQuery,
    response: schemas.tokenList,
    async handler(call) {
      const user = call.user;
      const all = call.query.all === 'true';
      if (all && user.role !== 'admin') {
        throw new ForbiddenError("Only admins may list other users' tokens; leave out all=true.");
      }
      const tokens = await call.services.server.store.adminTokens.list(all ? undefined : user.id);
      const emails = await emailsOf(
        call,
        tokens.map((token) => token.userId),
      );
      return { items: tokens.map((token) => tokenView(token, emails.get(token.userId) ?? null)) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/tokens`,
    access: 'viewer',
    tag: 'tokens',
    summary: 'Create an admin token for yourself (shown once)',
    description:
      'The token acts as you, with your role. Send it as `Authorization: Bearer arden_admin_…`. It is shown in this answer only; later only its prefix.',
    body: schemas.tokenCreateBody,
    response: schemas.tokenCreatedResponse,
    status: 201,
    async handler(call) {
      const user = call.user;
      const created = await call.services.users.createToken(
        user.id,
        call.body.name,
        call.body.expires_in_days,
      );
      return { token: created.token, admin_token: tokenView(created.record, user.email) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/tokens/:token_id/revoke`,
    access: 'viewer',
    tag: 'tokens',
    summary: 'Revoke an admin token (your own; admins: any)',
    params: { token_id: 'Token id.' },
    response: schemas.adminToken,
    async handler(call) {
      const user = call.user;
      const id = call.params.token_id as string;
      const token = await call.services.queries.adminToken(id);
      if (!token || (token.userId !== user.id && user.role !== 'admin')) {
        throw new NotFoundError(
          `No admin token ${id.slice(0, 100)} of yours. List them with GET /api/v1/tokens.`,
        );
      }
      const revoked = await call.services.users.revokeToken(id);
      const emails = await emailsOf(call, [revoked.userId]);
      return tokenView(revoked, emails.get(revoked.userId) ?? null);
    },
  }),

  // -------------------------------------------------------------------------------------------
  // Agents and keys
  route({
    method: 'GET',
    path: `${v1}/agents`,
    access: 'viewer',
    tag: 'agents',
    summary: 'List agents',
    response: schemas.agentPage,
    async handler(call) {
      const agents = await call.services.server.store.agents.list();
      return { items: agents.map(agentView), next_cursor: null };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/agents`,
    access: 'admin',
    tag: 'agents',
    summary: 'Create an agent',
    description:
      'Answers with the webhook signing key and any keys asked for in `create_keys`. Both are shown in this answer only: afterwards the API shows only their prefixes. Rotate the signing key to get a new one.',
    body: schemas.agentCreateBody,
    response: schemas.agentCreatedResponse,
    status: 201,
    async handler(call) {
      const agents = call.services.server.agents;
      const agent = await agents.createAgent({
        name: call.body.name,
        description: call.body.description ?? null,
        defaultAction: call.body.default_action,
        webhookUrl: call.body.webhook_url ?? null,
      });
      const keys = [];
      for (const environment of new Set(call.body.create_keys ?? [])) {
        const created = await agents.createKey(agent.id, environment);
        keys.push({ key: created.key, api_key: apiKeyView(created.record) });
      }
      return { agent: agentView(agent), signing_key: agent.signingKey, keys };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/agents/:agent_id`,
    access: 'viewer',
    tag: 'agents',
    summary: 'Get an agent and its active keys',
    params: { agent_id: 'Agent id or name.' },
    response: schemas.agentDetail,
    async handler(call) {
      const agent = await agentOf(call);
      const keys = await call.services.server.store.apiKeys.list(agent.id);
      return { ...agentView(agent), keys: keys.map(apiKeyView) };
    },
  }),
  route({
    method: 'PATCH',
    path: `${v1}/agents/:agent_id`,
    access: 'admin',
    tag: 'agents',
    summary: "Change an agent's name, description, default action or webhook URL",
    params: { agent_id: 'Agent id or name.' },
    body: schemas.agentUpdateBody,
    response: schemas.agent,
    async handler(call) {
      const agent = await agentOf(call);
      const updated = await call.services.server.agents.updateAgent(agent.id, {
        name: call.body.name,
        description: call.body.description,
        defaultAction: call.body.default_action,
        webhookUrl: call.body.webhook_url,
      });
      return agentView(updated);
    },
  }),
  route({
    method: 'DELETE',
    path: `${v1}/agents/:agent_id`,
    access: 'admin',
    tag: 'agents',
    summary: 'Delete an agent',
    description: 'Its keys stop working at once; its action log and usage stay.',
    params: { agent_id: 'Agent id or name.' },
    response: schemas.okBody,
    async handler(call) {
      const agent = await agentOf(call);
      await call.services.server.agents.deleteAgent(agent.id);
      return { ok: true as const };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/agents/:agent_id/signing-key/rotate`,
    access: 'admin',
    tag: 'agents',
    summary: "Replace an agent's webhook signing key (the new one is shown once)",
    description:
      'The old key stops at once: every later delivery, retries included, is signed with the new key.',
    params: { agent_id: 'Agent id or name.' },
    response: schemas.signingKeyResponse,
    async handler(call) {
      const agent = await agentOf(call);
      const updated = await call.services.server.agents.rotateSigningKey(agent.id);
      return { agent: agentView(updated), signing_key: updated.signingKey };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/agents/:agent_id/webhook/enable`,
    access: 'admin',
    tag: 'webhooks',
    summary: "Enable an agent's disabled webhook endpoint again",
    description:
      'An endpoint is disabled when it answers 410 Gone or every delivery to it has failed for 5 days; while disabled nothing is sent to it. Enabling it forgets its failures; deliveries that failed meanwhile stay failed — redeliver the ones you need.',
    params: { agent_id: 'Agent id or name.' },
    response: schemas.agent,
    async handler(call) {
      const agent = await agentOf(call);
      await call.services.server.webhooks.enableEndpoint(agent.id);
      return agentView(await call.services.server.agents.getAgent(agent.id));
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/agents/:agent_id/keys`,
    access: 'viewer',
    tag: 'agents',
    summary: "List an agent's API keys (prefixes only)",
    params: { agent_id: 'Agent id or name.' },
    query: schemas.keyQuery,
    response: schemas.apiKeyList,
    async handler(call) {
      const agent = await agentOf(call);
      const keys = await call.services.server.store.apiKeys.list(agent.id, {
        environment: call.query.environment,
        includeRevoked: call.query.include_revoked === 'true',
      });
      return { items: keys.map(apiKeyView) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/agents/:agent_id/keys`,
    access: 'admin',
    tag: 'agents',
    summary: 'Create an API key for the test or live environment (shown once)',
    params: { agent_id: 'Agent id or name.' },
    body: schemas.keyCreateBody,
    response: schemas.createdApiKey,
    status: 201,
    async handler(call) {
      const agent = await agentOf(call);
      const created = await call.services.server.agents.createKey(
        agent.id,
        call.body.environment,
        call.body.name ?? null,
      );
      return { key: created.key, api_key: apiKeyView(created.record) };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/agents/:agent_id/keys/:key_id/rotate`,
    access: 'admin',
    tag: 'agents',
    summary: 'Replace an API key: a new key (shown once), the old one revoked',
    params: { agent_id: 'Agent id or name.', key_id: 'Key id.' },
    response: schemas.createdApiKey,
    async handler(call) {
      const agent = await agentOf(call);
      const keyId = call.params.key_id as string;
      const existing = await call.services.server.store.apiKeys.get(keyId);
      if (!existing || existing.agentId !== agent.id) {
        throw new NotFoundError(`Agent ${agent.name} has no API key ${keyId.slice(0, 100)}.`);
      }
      const created = await call.services.server.agents.rotateKey(keyId);
      return { key: created.key, api_key: apiKeyView(created.record), revoked_key_id: keyId };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/agents/:agent_id/keys/:key_id/revoke`,
    access: 'admin',
    tag: 'agents',
    summary: 'Revoke an API key (it stops working at once)',
    params: { agent_id: 'Agent id or name.', key_id: 'Key id.' },
    response: schemas.apiKey,
    async handler(call) {
      const agent = await agentOf(call);
      const keyId = call.params.key_id as string;
      const store = call.services.server.store;
      const existing = await store.apiKeys.get(keyId);
      if (!existing || existing.agentId !== agent.id) {
        throw new NotFoundError(`Agent ${agent.name} has no API key ${keyId.slice(0, 100)}.`);
      }
      if (existing.revokedAt === null) await call.services.server.agents.revokeKey(keyId);
      return apiKeyView((await store.apiKeys.get(keyId)) ?? existing);
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/agents/:agent_id/deliveries`,
    access: 'viewer',
    tag: 'webhooks',
    summary: "List an agent's webhook deliveries, newest first",
    params: { agent_id: 'Agent id or name.' },
    query: schemas.deliveryQuery,
    response: schemas.deliveryPage,
    async handler(call) {
      const agent = await agentOf(call);
      const page = await call.services.server.store.webhooks.list(
        { agentId: agent.id, status: call.query.status, actionId: call.query.action_id },
        { cursor: call.query.cursor, limit: call.query.limit },
      );
      return { items: page.items.map(deliveryView), next_cursor: nextCursor(page.nextCursor) };
    },
  }),

  // -------------------------------------------------------------------------------------------
  // Policies
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

  // -------------------------------------------------------------------------------------------
  // Actions and approvals
  route({
    method: 'GET',
    path: `${v1}/actions`,
    access: 'viewer',
    tag: 'actions',
    summary: 'The action log, newest first, with filters',
    query: schemas.actionQuery,
    response: schemas.actionPage,
    async handler(call) {
      const query = call.query;
      let status: ActionStatus[] | undefined;
      if (query.status) {
        status = query.status.split(',').map((item) => item.trim()) as ActionStatus[];
        const unknown = status.find((item) => !actionStatuses.includes(item));
        if (unknown !== undefined) {
          throw new ValidationError(
            `status "${unknown.slice(0, 20)}" is not one of ${actionStatuses.join(', ')}.`,
            'status',
          );
        }
      }
      const page = await call.services.server.store.actions.list(
        {
          agentId: await agentIdFilter(call, query.agent),
          environment: query.environment,
          tool: query.tool,
          decision: query.decision,
          status,
          sessionId: query.session,
          from: parseTime(query.from, 'from'),
          to: parseTime(query.to, 'to'),
        },
        { cursor: query.cursor, limit: query.limit },
      );
      return { items: page.items.map(actionView), next_cursor: nextCursor(page.nextCursor) };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/actions/:action_id`,
    access: 'viewer',
    tag: 'actions',
    summary: 'One action: its explanation, decision, outcome and webhook deliveries',
    params: { action_id: 'Action id.' },
    response: schemas.actionDetail,
    async handler(call) {
      const id = call.params.action_id as string;
      const store = call.services.server.store;
      const action = id.length <= 100 ? await store.actions.get(id) : undefined;
      if (!action) throw new NotFoundError(`No action ${id.slice(0, 100)}.`);
      const [agent, deliveries, emails] = await Promise.all([
        store.agents.get(action.agentId),
        store.webhooks.list({ actionId: action.id }, { limit: 50 }),
        emailsOf(call, [action.decidedBy]),
      ]);
      const detailed = await Promise.all(
        deliveries.items.map(async (delivery) =>
          deliveryDetailView(delivery, await store.webhooks.attempts(delivery.id)),
        ),
      );
      return {
        ...actionView(action),
        agent_name: agent?.name ?? null,
        decided_by_email: action.decidedBy ? (emails.get(action.decidedBy) ?? null) : null,
        deliveries: detailed,
      };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/approvals`,
    access: 'viewer',
    tag: 'approvals',
    summary: 'Held actions waiting for a decision, oldest first',
    query: schemas.approvalQuery,
    response: schemas.approvalPage,
    async handler(call) {
      const now = call.services.server.clock();
      const page = await call.services.server.store.actions.list(
        {
          status: 'pending',
          agentId: await agentIdFilter(call, call.query.agent),
          environment: call.query.environment,
        },
        { cursor: call.query.cursor, limit: call.query.limit, order: 'asc' },
      );
      return {
        items: page.items.map((action) => ({
          ...actionView(action),
          waiting_ms: Math.max(0, now - action.createdAt),
        })),
        next_cursor: nextCursor(page.nextCursor),
      };
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/approvals/:action_id/approve`,
    access: 'approver',
    tag: 'approvals',
    summary: 'Approve a held action',
    description:
      'The first decision wins: a second decision, or one on an action that expired or never needed approval, gets 409. The waiting agent is woken at once and the webhook is queued.',
    params: { action_id: 'Action id.' },
    body: schemas.decisionBody,
    bodyOptional: true,
    response: schemas.action,
    async handler(call) {
      const decided = await call.services.server.approvals.decide(call.params.action_id as string, {
        decision: 'approve',
        userId: call.user.id,
        notes: call.body.notes ?? null,
      });
      return actionView(decided);
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/approvals/:action_id/deny`,
    access: 'approver',
    tag: 'approvals',
    summary: 'Deny a held action',
    description: 'As approve: the first decision wins, a second gets 409.',
    params: { action_id: 'Action id.' },
    body: schemas.decisionBody,
    bodyOptional: true,
    response: schemas.action,
    async handler(call) {
      const decided = await call.services.server.approvals.decide(call.params.action_id as string, {
        decision: 'deny',
        userId: call.user.id,
        notes: call.body.notes ?? null,
      });
      return actionView(decided);
    },
  }),

  // -------------------------------------------------------------------------------------------
  // Sessions and usage
  route({
    method: 'GET',
    path: `${v1}/sessions`,
    access: 'viewer',
    tag: 'sessions',
    summary: 'Sessions with their action counts and token cost, most recent first',
    query: schemas.sessionQuery,
    response: schemas.sessionPage,
    async handler(call) {
      const page = await call.services.server.store.actions.listSessions(
        {
          agentId: await agentIdFilter(call, call.query.agent),
          environment: call.query.environment,
          from: parseTime(call.query.from, 'from'),
          to: parseTime(call.query.to, 'to'),
        },
        { cursor: call.query.cursor, limit: call.query.limit },
      );
      return { items: page.items.map(sessionView), next_cursor: nextCursor(page.nextCursor) };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/sessions/:session_id`,
    access: 'viewer',
    tag: 'sessions',
    summary: "One session's calls and token usage on a timeline, with the running cost",
    params: { session_id: 'Session id.' },
    query: schemas.sessionDetailQuery,
    response: schemas.sessionDetail,
    async handler(call) {
      const sessionId = call.params.session_id as string;
      const agentId = await agentIdFilter(call, call.query.agent);
      const filter = { agentId, environment: call.query.environment };
      const [{ actions, more: moreActions }, { usage, more: moreUsage }] = await Promise.all([
        collectActions(call, { ...filter, sessionId }, sessionTimelineLimit, 'asc'),
        collectUsage(call, sessionId, filter, sessionTimelineLimit),
      ]);
      if (actions.length === 0 && usage.length === 0) {
        throw new NotFoundError(
          `No session ${sessionId.slice(0, 100)}${agentId ? ' for this agent' : ''}. List sessions with GET /api/v1/sessions.`,
        );
      }
      const entries = [
        ...actions.map((action) => ({ at: action.createdAt, action })),
        ...usage.map((event) => ({ at: event.createdAt, usage: event })),
      ].sort((left, right) => left.at - right.at);
      let runningCost = 0;
      let runningTokens = 0;
      const summaries = new Map<string, SessionSummary>();
      const summaryOf = (agent: string, environment: Environment, at: number) => {
        const key = `${agent}\u0000${environment}`;
        let summary = summaries.get(key);
        if (!summary) {
          summary = {
            sessionId,
            agentId: agent,
            environment,
            actions: 0,
            pending: 0,
            blocked: 0,
            firstAt: at,
            lastAt: at,
            totalTokens: 0,
            costUsd: 0,
          };
          summaries.set(key, summary);
        }
        summary.firstAt = Math.min(summary.firstAt, at);
        summary.lastAt = Math.max(summary.lastAt, at);
        return summary;
      };
      const timeline = entries.slice(0, sessionTimelineLimit).map((entry) => {
        if ('action' in entry && entry.action) {
          const action = entry.action;
          const summary = summaryOf(action.agentId, action.environment, action.createdAt);
          summary.actions++;
          if (action.status === 'pending') summary.pending++;
          if (action.decision === 'block') summary.blocked++;
          return {
            kind: 'action' as const,
            at: iso(entry.at),
            action: actionView(action),
            running_cost_usd: runningCost,
            running_tokens: runningTokens,
          };
        }
        const event = (entry as { usage: UsageRecord }).usage;
        const tokens = event.promptTokens + event.completionTokens;
        runningCost += event.costUsd;
        runningTokens += tokens;
        const summary = summaryOf(event.agentId, event.environment, event.createdAt);
        summary.totalTokens += tokens;
        summary.costUsd += event.costUsd;
        return {
          kind: 'usage' as const,
          at: iso(entry.at),
          usage: usageView(event),
          running_cost_usd: runningCost,
          running_tokens: runningTokens,
        };
      });
      return {
        session_id: sessionId,
        sessions: [...summaries.values()].map(sessionView),
        timeline,
        total_cost_usd: runningCost,
        total_tokens: runningTokens,
        truncated: moreActions || moreUsage || entries.length > sessionTimelineLimit,
      };
    },
  }),
  route({
    method: 'GET',
    path: `${v1}/usage`,
    access: 'viewer',
    tag: 'usage',
    summary: 'Token usage and cost, grouped by model, day, session or agent, with totals',
    query: schemas.usageQuery,
    response: schemas.usageResponse,
    async handler(call) {
      const query = call.query;
      const from = parseTime(query.from, 'from');
      const to = parseTime(query.to, 'to');
      const filter = {
        agentId: await agentIdFilter(call, query.agent),
        environment: query.environment,
        sessionId: query.session,
        model: query.model,
        from,
        to,
      };
      const usage = call.services.server.store.usage;
      const [items, totals] = await Promise.all([
        usage.aggregate(query.group_by, filter, { limit: query.limit }),
        usage.totals(filter),
      ]);
      return {
        group_by: query.group_by,
        from: iso(from),
        to: iso(to),
        totals: aggregateView(totals),
        items: items.map((item) => ({
          key: item.key,
          ...(item.label === undefined ? {} : { label: item.label }),
          ...aggregateView(item),
        })),
      };
    },
  }),

  // -------------------------------------------------------------------------------------------
  // Webhook deliveries
  route({
    method: 'GET',
    path: `${v1}/deliveries/:delivery_id`,
    access: 'viewer',
    tag: 'webhooks',
    summary: 'A webhook delivery with its body and every attempt',
    params: { delivery_id: 'Delivery id.' },
    response: schemas.deliveryDetail,
    async handler(call) {
      const id = call.params.delivery_id as string;
      const store = call.services.server.store;
      const delivery = await store.webhooks.get(id);
      if (!delivery) throw new NotFoundError(`No webhook delivery ${id.slice(0, 100)}.`);
      return deliveryDetailView(delivery, await store.webhooks.attempts(id));
    },
  }),
  route({
    method: 'POST',
    path: `${v1}/deliveries/:delivery_id/redeliver`,
    access: 'admin',
    tag: 'webhooks',
    summary: 'Send a webhook delivery again (same event id, so receivers can de-duplicate)',
    params: { delivery_id: 'Delivery id.' },
    response: schemas.deliveryDetail,
    async handler(call) {
      const id = call.params.delivery_id as string;
      const delivery = await call.services.server.webhooks.redeliver(id);
      return deliveryDetailView(delivery, await call.services.server.store.webhooks.attempts(id));
    },
  }),

  // -------------------------------------------------------------------------------------------
  // Live events and the API description
  route({
    method: 'GET',
    path: `${v1}/events`,
    access: 'viewer',
    tag: 'events',
    summary: 'Live admin events (Server-Sent Events)',
    description:
      'A `text/event-stream` of `action.created`, `action.decided`, `action.reported`, `usage.recorded` and `webhook.attempted` events; each `data:` is a LiveEvent. Heartbeat comments keep it open; reconnect with `Last-Event-ID` to receive what you missed (an `event: reset` says to reload instead).',
    query: schemas.eventQuery,
    response: schemas.liveEvent,
    stream: true,
    async handler(call) {
      const types = call.query.types
        ?.split(',')
        .map((type) => type.trim())
        .filter((type) => type !== '');
      call.services.live.serve(call.context, { types, agentId: call.query.agent });
      // The stream answers for itself; there is no JSON body.
      return undefined as never;
    },
  }),
  route({
    method: 'GET',
    path: '/api/openapi.json',
    access: 'public',
    tag: 'meta',
    summary: 'This API as an OpenAPI 3.1 document',
    async handler() {
      return openApiDocument(adminRoutes);
    },
  }),
];
