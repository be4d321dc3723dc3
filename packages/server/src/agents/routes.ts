import { agentOf, v1 } from '../admin/route-helpers';
import * as common from '../admin/schemas';
import { agentView, apiKeyView } from '../admin/serialize';
import { type AdminRoute, route } from '../admin/table';
import { NotFoundError } from '../errors';
import * as schemas from './schema';

// The admin API of agents, their signing keys and API keys.

/** Agents, their signing keys, webhook and API keys. */
export const agentRoutes: readonly AdminRoute[] = [
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
        owner: call.body.owner,
        webhookSensitiveInFull: call.body.webhook_sensitive_in_full,
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
    summary:
      "Change an agent's name, description, default action, webhook URL, owner or sensitive values in webhooks",
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
        owner: call.body.owner,
        webhookSensitiveInFull: call.body.webhook_sensitive_in_full,
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
    response: common.okBody,
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
];
