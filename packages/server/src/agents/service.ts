import { EFFECTS, isEffect } from '@arden/policy';
import {
  type Environment,
  generateApiKey,
  generateSigningKey,
  hashSecret,
  keyPrefix,
  parseApiKey,
} from '../crypto';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import type { AgentRecord, ApiKeyRecord, Effect, Store } from '../store';
import {
  checkWebhookUrl,
  ForbiddenWebhookAddressError,
  type WebhookAddressPolicy,
} from '../webhooks/ssrf';

/** Who an agent API key belongs to. */
export interface AgentPrincipal {
  keyId: string;
  agent: AgentRecord;
  environment: Environment;
}

/** Options of the agent service. */
export interface AgentServiceOptions {
  /** How long a resolved key is trusted without reading the store again (default 60 s). */
  cacheTtlMs?: number;
  /** How long an unknown key is remembered as unknown (default 5 s). */
  negativeCacheTtlMs?: number;
  /** Entries kept (default 10 000). */
  cacheSize?: number;
  /** Which addresses webhook URLs may point to (checked when a URL is saved). */
  webhookPolicy?: WebhookAddressPolicy;
  clock?: () => number;
}

/** Input of `createAgent`. */
export interface CreateAgentInput {
  name: string;
  description?: string | null;
  defaultAction?: Effect;
  webhookUrl?: string | null;
  /** The user who owns the agent: a user id or email. */
  owner?: string | null;
  /** Let the agent's webhooks carry sensitive argument values in full (default false). */
  webhookSensitiveInFull?: boolean;
}

/** A newly created key: `key` is shown once and never stored. */
export interface CreatedApiKey {
  key: string;
  record: ApiKeyRecord;
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/;

/** Checks a webhook URL: absolute http(s), or null to remove it. */
export function validateWebhookUrl(url: unknown): string | null {
  if (url === null || url === undefined || url === '') return null;
  if (typeof url !== 'string')
    throw new ValidationError('webhookUrl must be a string.', 'webhookUrl');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError(`webhookUrl "${url}" is not a URL.`, 'webhookUrl');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ValidationError('webhookUrl must start with https:// or http://.', 'webhookUrl');
  }
  return parsed.toString();
}

function validateName(name: unknown): string {
  if (typeof name !== 'string' || !namePattern.test(name)) {
    throw new ValidationError(
      'name must be 1–100 characters: letters, digits, spaces, dots, dashes and underscores, starting with a letter or digit.',
      'name',
    );
  }
  return name;
}

function validateEffect(effect: unknown, field: string): Effect {
  if (!isEffect(effect)) {
    throw new ValidationError(`${field} must be one of ${EFFECTS.join(', ')}.`, field);
  }
  return effect;
}

interface CacheEntry {
  principal: AgentPrincipal | undefined;
  expiresAt: number;
  hash: string;
}

/**
 * Agents and their keys. Key lookups on the hot path are cached (hash → agent); every change
 * made through this service invalidates the cache at once. Last-used times are kept in memory
 * and written in batches (`flushKeyUse`).
 */
export class AgentService {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly lastUsed = new Map<string, number>();
  private readonly clock: () => number;
  private readonly ttl: number;
  private readonly negativeTtl: number;
  private readonly size: number;
  private readonly webhookPolicy: WebhookAddressPolicy;
  private publish: ((target: { hash?: string; agentId?: string }) => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    options: AgentServiceOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.ttl = options.cacheTtlMs ?? 60_000;
    this.negativeTtl = options.negativeCacheTtlMs ?? 5_000;
    this.size = options.cacheSize ?? 10_000;
    this.webhookPolicy = options.webhookPolicy ?? {};
  }

  /**
   * Checks a webhook URL before it is saved: its form, and that it does not point (or resolve)
   * to a private, loopback, link-local or metadata address unless the policy allows it.
   */
  async checkWebhookUrl(url: unknown): Promise<string | null> {
    const valid = validateWebhookUrl(url);
    if (valid === null) return null;
    try {
      await checkWebhookUrl(valid, this.webhookPolicy);
    } catch (error) {
      if (error instanceof ForbiddenWebhookAddressError) {
        throw new ValidationError(`webhookUrl refused: ${error.message}`, 'webhookUrl');
      }
      throw error;
    }
    return valid;
  }

  /** The id of the user named by `owner` (an id or email); null clears the owner. */
  private async ownerId(owner: string | null | undefined): Promise<string | null | undefined> {
    if (owner === undefined) return undefined;
    if (owner === null || owner.trim() === '') return null;
    const name = owner.trim();
    const user = (await this.store.users.get(name)) ?? (await this.store.users.getByEmail(name));
    if (!user) {
      throw new ValidationError(
        `owner "${name}" is not a user of this server: give a user's id or email (GET /api/v1/users lists them), or null for no owner.`,
        'owner',
      );
    }
    return user.id;
  }

  /** The agent and environment of an agent API key, or undefined if it is unknown or revoked. */
  async authenticate(key: string): Promise<AgentPrincipal | undefined> {
    const now = this.clock();
    // Keyed by the presented key itself (it is in this process's memory anyway): a hit costs
    // no hashing. The store only ever sees the hash.
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > now) {
      if (cached.principal) this.lastUsed.set(cached.principal.keyId, now);
      return cached.principal;
    }
    if (!parseApiKey(key)) return undefined;
    const hash = hashSecret(key);
    const found = await this.store.apiKeys.findActiveByHash(hash);
    const principal = found
      ? { keyId: found.key.id, agent: found.agent, environment: found.key.environment }
      : undefined;
    if (this.cache.size >= this.size) this.cache.clear();
    this.cache.set(key, {
      principal,
      expiresAt: now + (principal ? this.ttl : this.negativeTtl),
      hash,
    });
    if (principal) this.lastUsed.set(principal.keyId, now);
    return principal;
  }

  /** Tells other replicas about changes (the server wires it to PostgreSQL NOTIFY). */
  onChange(publish: (target: { hash?: string; agentId?: string }) => void): void {
    this.publish = publish;
  }

  private changed(target: { hash?: string; agentId?: string }): void {
    this.invalidate(target);
    this.publish?.(target);
  }

  /** Forgets cached keys: the key with this hash, one agent's keys, or all. */
  invalidate(target?: { hash?: string; agentId?: string }): void {
    if (!target) {
      this.cache.clear();
      return;
    }
    for (const [key, entry] of this.cache) {
      if (
        (target.hash !== undefined && entry.hash === target.hash) ||
        (target.agentId !== undefined && entry.principal?.agent.id === target.agentId)
      ) {
        this.cache.delete(key);
      }
    }
  }

  /** Writes the remembered last-used times of keys. */
  async flushKeyUse(): Promise<void> {
    if (this.lastUsed.size === 0) return;
    const batch = new Map(this.lastUsed);
    this.lastUsed.clear();
    try {
      await this.store.apiKeys.touch(batch);
    } catch (error) {
      this.logger.warn('Could not record when API keys were last used', { error });
    }
  }

  /** Creates an agent with a new signing key. Names are unique. */
  async createAgent(input: CreateAgentInput): Promise<AgentRecord> {
    const name = validateName(input.name);
    const now = this.clock();
    const agent: AgentRecord = {
      id: uuidv7(now),
      name,
      description: input.description ?? null,
      defaultAction: validateEffect(input.defaultAction ?? 'allow', 'defaultAction'),
      webhookUrl: await this.checkWebhookUrl(input.webhookUrl),
      signingKey: generateSigningKey(),
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      ownerUserId: (await this.ownerId(input.owner)) ?? null,
      webhookSensitiveInFull: input.webhookSensitiveInFull === true,
    };
    if (await this.store.agents.getByName(name)) {
      throw new ConflictError(`An agent named "${name}" already exists; choose another name.`);
    }
    await this.store.agents.insert(agent);
    return agent;
  }

  /** An agent by id, or by name when no id matches. Throws `NotFoundError`. */
  async getAgent(idOrName: string): Promise<AgentRecord> {
    const agent =
      (await this.store.agents.get(idOrName)) ?? (await this.store.agents.getByName(idOrName));
    if (!agent || agent.deletedAt !== null) {
      throw new NotFoundError(`No agent "${idOrName}". List agents with \`arden agents list\`.`);
    }
    return agent;
  }

  /**
   * Changes an agent's name, description, default action, webhook URL, owner, or whether its
   * webhooks carry sensitive values in full.
   */
  async updateAgent(
    id: string,
    patch: {
      name?: string;
      description?: string | null;
      defaultAction?: Effect;
      webhookUrl?: string | null;
      owner?: string | null;
      webhookSensitiveInFull?: boolean;
    },
  ): Promise<AgentRecord> {
    const agent = await this.getAgent(id);
    const updated = await this.store.agents.update(
      agent.id,
      {
        name: patch.name === undefined ? undefined : validateName(patch.name),
        description: patch.description,
        defaultAction:
          patch.defaultAction === undefined
            ? undefined
            : validateEffect(patch.defaultAction, 'defaultAction'),
        webhookUrl:
          patch.webhookUrl === undefined ? undefined : await this.checkWebhookUrl(patch.webhookUrl),
        ownerUserId: await this.ownerId(patch.owner),
        webhookSensitiveInFull: patch.webhookSensitiveInFull,
      },
      this.clock(),
    );
    if (
      patch.webhookSensitiveInFull !== undefined &&
      patch.webhookSensitiveInFull !== agent.webhookSensitiveInFull
    ) {
      this.logger.info(
        patch.webhookSensitiveInFull
          ? "An agent's webhooks now carry sensitive argument values in full"
          : "An agent's webhooks mask sensitive argument values again",
        { agentId: agent.id },
      );
    }
    // Saving the webhook URL (even unchanged) is how an operator says the endpoint is fixed:
    // it is enabled again and its failures forgotten.
    let result = updated as AgentRecord;
    if (patch.webhookUrl !== undefined && result.webhookDisabledAt != null) {
      await this.store.agents.enableWebhook(agent.id);
      result = (await this.store.agents.get(agent.id)) ?? result;
    } else if (patch.webhookUrl !== undefined && result.webhookFailingSince != null) {
      await this.store.agents.enableWebhook(agent.id);
      result = { ...result, webhookFailingSince: null };
    }
    this.changed({ agentId: agent.id });
    return result;
  }

  /** Replaces an agent's webhook signing key; returns the agent with the new key. */
  async rotateSigningKey(id: string): Promise<AgentRecord> {
    const agent = await this.getAgent(id);
    const updated = await this.store.agents.update(
      agent.id,
      { signingKey: generateSigningKey() },
      this.clock(),
    );
    this.changed({ agentId: agent.id });
    return updated as AgentRecord;
  }

  /** Soft-deletes an agent: its keys stop working at once; its log stays. */
  async deleteAgent(id: string): Promise<void> {
    const agent = await this.getAgent(id);
    await this.store.agents.softDelete(agent.id, this.clock());
    this.changed({ agentId: agent.id });
  }

  /** Creates an API key for an agent and environment. The returned `key` is shown once. */
  async createKey(
    agentId: string,
    environment: Environment,
    name: string | null = null,
  ): Promise<CreatedApiKey> {
    if (environment !== 'test' && environment !== 'live') {
      throw new ValidationError('environment must be "test" or "live".', 'environment');
    }
    const agent = await this.getAgent(agentId);
    const key = generateApiKey(environment);
    const now = this.clock();
    const record: ApiKeyRecord = {
      id: uuidv7(now),
      agentId: agent.id,
      environment,
      name,
      prefix: keyPrefix(key),
      createdAt: now,
      revokedAt: null,
      lastUsedAt: null,
    };
    const hash = hashSecret(key);
    await this.store.apiKeys.insert({ ...record, hash });
    this.changed({ hash });
    return { key, record };
  }

  /** Revokes a key; it stops working at once. */
  async revokeKey(keyId: string): Promise<void> {
    const hash = await this.store.apiKeys.hashOf(keyId);
    if (!hash) throw new NotFoundError(`No API key ${keyId}.`);
    await this.store.apiKeys.revoke(keyId, this.clock());
    this.changed({ hash });
  }

  /** Revokes a key and creates its replacement (same agent and environment) in one transaction. */
  async rotateKey(keyId: string): Promise<CreatedApiKey> {
    const old = await this.store.apiKeys.get(keyId);
    if (!old) throw new NotFoundError(`No API key ${keyId}.`);
    if (old.revokedAt !== null) throw new ConflictError(`API key ${keyId} is already revoked.`);
    const key = generateApiKey(old.environment);
    const now = this.clock();
    const record: ApiKeyRecord = {
      id: uuidv7(now),
      agentId: old.agentId,
      environment: old.environment,
      name: old.name,
      prefix: keyPrefix(key),
      createdAt: now,
      revokedAt: null,
      lastUsedAt: null,
    };
    const oldHash = await this.store.apiKeys.hashOf(keyId);
    await this.store.transaction(async (repositories) => {
      await repositories.apiKeys.revoke(keyId, now);
      await repositories.apiKeys.insert({ ...record, hash: hashSecret(key) });
    });
    if (oldHash) this.changed({ hash: oldHash });
    this.changed({ hash: hashSecret(key) });
    return { key, record };
  }
}
