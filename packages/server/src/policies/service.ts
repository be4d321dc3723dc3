import {
  type CompiledPolicySet,
  compilePolicies,
  evaluate,
  type McpCallInfo,
  type MemoryNeeds,
  type MemoryValues,
  type MemoryWrites,
  memoryNeeds,
  memoryWrites,
  type PolicyDecision,
  type PolicyDefinition,
  parseExactJson,
  sensitivePaths,
  shellParserSettled,
} from '@arden/policy';
import type { Environment } from '../crypto';
import { NotFoundError, ValidationError } from '../errors';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import type {
  ActionRecord,
  AgentRecord,
  Effect,
  PolicyDiff,
  PolicyRecord,
  PolicyVersionRecord,
  Store,
} from '../store';
import { similarPolicyTools } from './similar-tools';

/** Who saves a policy change and why, for the version history. */
export interface PolicyChange {
  createdBy?: string | null;
  message?: string | null;
}

/** A tool call as the policy engine sees it. */
export interface PolicyCall {
  tool: string;
  kwargs: Record<string, unknown>;
  sessionId: string | null;
  /** `metadata.mcp` of the check ({server, tool, annotations}); the engine keeps valid fields only. */
  mcp?: unknown;
  /** The values of the memory inputs the deciding policy reads (see `memory/`). */
  memory?: MemoryValues;
  /** The length of the check's JSON text: a large check's evaluation gets fewer units. */
  textLength?: number;
}

interface CachedSet {
  agentId: string;
  environment: Environment;
  version: number;
  /** When the version was last compared with the store. */
  checkedAt: number;
  set: CompiledPolicySet | undefined;
  /** Why the stored set could not be compiled (every call is then blocked). */
  failure: string | undefined;
  /** The stored policies of this version, in order (read once per version). */
  records: readonly PolicyRecord[];
  /** The enabled policies' tool patterns, listed once per version (for `similarTools`). */
  policyTools?: readonly string[];
}

const failClosedReason = 'policy_error';

function diffOf(before: PolicyRecord[], after: PolicyDefinition[]): PolicyDiff {
  const old = new Map(before.map((policy) => [policy.name, JSON.stringify(policy.definition)]));
  const next = new Map(after.map((policy) => [policy.name, JSON.stringify(policy)]));
  return {
    added: [...next.keys()].filter((name) => !old.has(name)),
    removed: [...old.keys()].filter((name) => !next.has(name)),
    changed: [...next.keys()].filter((name) => old.has(name) && old.get(name) !== next.get(name)),
  };
}

/**
 * About the length of a logged call's check text (its stored texts; whitespace between them is
 * not kept): what a replay passes as `textLength`, so that a large call's evaluation gets the
 * units it got when it was checked.
 */
export function loggedTextLength(action: ActionRecord): number {
  return (
    action.toolName.length +
    action.argsJson.length +
    action.kwargsJson.length +
    (action.metadataJson?.length ?? 0) +
    48
  );
}

/**
 * A logged call's keyword arguments as the policy engine saw them when it was checked (exact
 * integers), read again from the stored text: what a simulation over history evaluates.
 */
export function loggedArguments(action: ActionRecord): Record<string, unknown> {
  try {
    const value = parseExactJson(action.kwargsJson);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Not expected of stored text; the parsed copy is the next best thing.
  }
  return action.kwargs;
}

/**
 * Policy sets per agent and environment: saving (validated, versioned, with a diff), and the
 * compiled set cache of the hot path — compiled once per version, invalidated on every change
 * made through this service.
 */
export class PolicyService {
  private readonly cache = new Map<string, CachedSet>();
  private readonly loading = new Map<string, Promise<CachedSet>>();
  /**
   * Bumped for a key on every change of its set: a load that started before the change does not
   * put what it read into the cache (it may have read the set before the change).
   */
  private readonly generations = new Map<string, number>();
  private readonly clock: () => number;
  private readonly revalidateMs: number;
  private publish: ((agentId: string, environment: Environment) => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    options: { clock?: () => number; revalidateMs?: number } = {},
  ) {
    this.clock = options.clock ?? Date.now;
    // Changes made through this service (on any replica, via notifications) apply at once;
    // this re-check of the version is the safety net for a lost notification.
    this.revalidateMs = options.revalidateMs ?? 30_000;
  }

  /** Tells other replicas about changes (the server wires it to PostgreSQL NOTIFY). */
  onChange(publish: (agentId: string, environment: Environment) => void): void {
    this.publish = publish;
  }

  private changed(agentId: string, environment: Environment): void {
    this.invalidate(agentId, environment);
    this.publish?.(agentId, environment);
  }

  private key(agentId: string, environment: Environment): string {
    return `${agentId}\u0000${environment}`;
  }

  private keys(agentId: string, environment?: Environment): string[] {
    return (environment ? [environment] : (['test', 'live'] as const)).map((candidate) =>
      this.key(agentId, candidate),
    );
  }

  /** Marks a key's set as changed: loads under way for it no longer fill the cache. */
  private bump(key: string): void {
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    this.loading.delete(key);
  }

  /** Forgets compiled sets: one agent and environment, one agent, or all. */
  invalidate(agentId?: string, environment?: Environment): void {
    const keys = agentId
      ? this.keys(agentId, environment)
      : [...this.cache.keys(), ...this.loading.keys()];
    for (const key of keys) {
      this.bump(key);
      this.cache.delete(key);
    }
  }

  /**
   * Another replica changed a set (its notification): the cached set is compared with the
   * stored version again — and, if it changed, compiled again — now, in the background, rather
   * than on the next check. Sets not cached here are left to be loaded when first needed.
   */
  refresh(agentId: string, environment?: Environment): void {
    for (const key of this.keys(agentId, environment)) {
      this.bump(key);
      const cached = this.cache.get(key);
      if (!cached) continue;
      cached.checkedAt = Number.NEGATIVE_INFINITY;
      void this.load(cached.agentId, cached.environment).catch((error: unknown) => {
        this.logger.warn('Could not reload a changed policy set; the next check will', {
          agentId: cached.agentId,
          environment: cached.environment,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    }
  }

  private async load(agentId: string, environment: Environment): Promise<CachedSet> {
    const key = this.key(agentId, environment);
    const cached = this.cache.get(key);
    if (cached && this.clock() - cached.checkedAt < this.revalidateMs) return cached;
    let pending = this.loading.get(key);
    if (!pending) {
      const generation = this.generations.get(key) ?? 0;
      pending = (async () => {
        const checkedAt = this.clock();
        if (cached) {
          const current = await this.store.policies.currentVersion(agentId, environment);
          if (current === cached.version) {
            // Not when the set changed meanwhile: the version was read before the change.
            if ((this.generations.get(key) ?? 0) === generation) cached.checkedAt = checkedAt;
            return cached;
          }
        }
        const [version, policies] = await Promise.all([
          this.store.policies.currentVersion(agentId, environment),
          this.store.policies.list(agentId, environment),
        ]);
        const entry = await this.compileStored(agentId, environment, version, policies, checkedAt);
        // Not when the set changed meanwhile (this load may have read it before the change).
        if ((this.generations.get(key) ?? 0) === generation) this.install(key, entry);
        return entry;
      })().finally(() => {
        if (this.loading.get(key) === pending) this.loading.delete(key);
      });
      this.loading.set(key, pending);
    }
    return pending;
  }

  /** Caches `entry` unless a later version of the same set is cached already. */
  private install(key: string, entry: CachedSet): void {
    const cached = this.cache.get(key);
    if (cached === undefined || cached.version <= entry.version) this.cache.set(key, entry);
  }

  /**
   * Compiles a stored set, ready for checks: when it uses `shell.commands`, resolves only once
   * the shell parser is loaded. A set that does not compile is kept with its failure.
   */
  private async compileStored(
    agentId: string,
    environment: Environment,
    version: number,
    policies: PolicyRecord[],
    checkedAt: number,
  ): Promise<CachedSet> {
    const entry = { agentId, environment, version, checkedAt, records: policies };
    try {
      const definitions = policies.map(
        (policy) =>
          ({
            ...policy.definition,
            id: policy.id,
            version: policy.version,
          }) as PolicyDefinition,
      );
      const set = compilePolicies(definitions);
      // A set using shell.commands starts loading its parser on compile: wait for it.
      await shellParserSettled();
      return { ...entry, set, failure: undefined };
    } catch (error) {
      // A stored set that no longer compiles (say, after an engine upgrade) must not let
      // calls through: every call is blocked and the log says why.
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error('A stored policy set does not compile; blocking its calls', {
        agentId,
        environment,
        version,
        error: message,
      });
      return { ...entry, set: undefined, failure: message };
    }
  }

  /** The compiled set and its version (for simulations and the admin side). */
  async compiled(
    agentId: string,
    environment: Environment,
  ): Promise<{ version: number; set: CompiledPolicySet | undefined; failure: string | undefined }> {
    return this.load(agentId, environment);
  }

  private async current(agentId: string, environment: Environment, now: number) {
    const cached = this.cache.get(this.key(agentId, environment));
    return cached && now - cached.checkedAt < this.revalidateMs
      ? cached
      : await this.load(agentId, environment);
  }

  /**
   * What deciding a call of `tool` will read from memory (the deciding policy's memory inputs,
   * its `refuse_repeats`), from the same cached set `decide` uses. A set that does not compile
   * needs nothing: it blocks every call.
   */
  async memoryNeeds(
    agentId: string,
    environment: Environment,
    tool: string,
    now: number,
  ): Promise<{ needs: MemoryNeeds; writes: MemoryWrites; set: object } | undefined> {
    const entry = await this.current(agentId, environment, now);
    const set = entry.set;
    // `writes`: the scopes a call of `tool` moves for any policy's memory inputs (`memoryWrites`);
    // `set`: which compiled set they are of (memory kept per replica is read under one set).
    return set
      ? { needs: memoryNeeds(set, tool), writes: memoryWrites(set, tool), set }
      : undefined;
  }

  /** The sensitive argument paths (`redact`) of the policy deciding calls of `tool`, if any. */
  async sensitivePaths(
    agentId: string,
    environment: Environment,
    tool: string,
    now: number,
  ): Promise<readonly string[]> {
    const entry = await this.current(agentId, environment, now);
    return entry.set ? sensitivePaths(entry.set, tool) : [];
  }

  /**
   * Decides one call for an agent: the matching policy's effect, or the agent's default action
   * (reason `no_policy_configured`). Fails closed: an engine fault blocks the call.
   */
  async decide(
    agent: AgentRecord,
    environment: Environment,
    call: PolicyCall,
    now: number,
  ): Promise<PolicyDecision> {
    const entry = await this.current(agent.id, environment, now);
    if (!entry.set) {
      return {
        effect: 'block',
        reason: failClosedReason as PolicyDecision['reason'],
        errors: [],
        explanation: `The policy set (version ${entry.version}) does not compile, so every call is blocked: ${entry.failure}`,
      };
    }
    try {
      const decision = evaluate(
        entry.set,
        {
          tool: call.tool,
          args: call.kwargs,
          session: call.sessionId,
          agent: { id: agent.id, name: agent.name },
          environment,
          now: new Date(now),
          mcp: call.mcp as McpCallInfo | undefined,
          memory: call.memory,
          textLength: call.textLength,
        },
        agent.defaultAction,
      );
      const error = decision.errors[0];
      if (error !== undefined) {
        // The rule, the error and the arguments' shape (types, never values); the action keeps them too.
        this.logger.warn(
          "A policy condition could not be evaluated; the policy's on_error decided",
          {
            agentId: agent.id,
            tool: call.tool,
            policy: decision.policy?.name,
            rule: error.ruleIndex < 0 ? 'declared argument types' : error.ruleIndex + 1,
            reason: decision.reason,
            decision: decision.effect,
            error: error.message,
            shape: error.shape,
          },
        );
      }
      return decision;
    } catch (error) {
      this.logger.error('The policy engine failed; blocking the call', {
        agentId: agent.id,
        tool: call.tool,
        error,
      });
      return {
        effect: 'block',
        reason: failClosedReason as PolicyDecision['reason'],
        errors: [],
        explanation: `The policy engine failed on this call, so it was blocked: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  /**
   * What a draft set would have decided on the agent's last `limit` logged calls (default 100,
   * at most 500), beside what was decided then. Throws `PolicyCompileError` for a bad draft.
   */
  async simulate(
    agent: AgentRecord,
    environment: Environment,
    definitions: PolicyDefinition[],
    options: { limit?: number } = {},
  ): Promise<{ action: ActionRecord; before: Effect; after: PolicyDecision }[]> {
    const draft = compilePolicies(definitions);
    await shellParserSettled();
    const recent = await this.store.actions.list(
      { agentId: agent.id, environment },
      { limit: Math.min(500, options.limit ?? 100) },
    );
    return recent.items.map((action) => ({
      action,
      before: action.decision,
      after: evaluate(
        draft,
        {
          tool: action.toolName,
          args: loggedArguments(action),
          session: action.sessionId,
          agent: { id: agent.id, name: agent.name },
          environment,
          now: new Date(action.createdAt),
          textLength: loggedTextLength(action),
        },
        agent.defaultAction,
      ),
    }));
  }

  /** The stored policies of an agent and environment, in order. */
  list(agentId: string, environment: Environment): Promise<PolicyRecord[]> {
    return this.store.policies.list(agentId, environment);
  }

  /**
   * The current stored policies from the hot path's cache (re-read only when the set changes):
   * for work done per held call, such as finding who to notify.
   */
  async currentRecords(
    agentId: string,
    environment: Environment,
  ): Promise<readonly PolicyRecord[]> {
    return (await this.current(agentId, environment, this.clock())).records;
  }

  /** Version history, newest first. */
  versions(
    agentId: string,
    environment: Environment,
    options: { limit?: number; before?: number } = {},
  ): Promise<PolicyVersionRecord[]> {
    return this.store.policies.listVersions(agentId, environment, options);
  }

  /**
   * Replaces the whole set (order matters only for display; matching is by specificity).
   * Compiles it first: a set that does not compile is refused with `PolicyCompileError` (its
   * `issues` carry policy, path, line and column). Every save is a new version.
   */
  async saveSet(
    agentId: string,
    environment: Environment,
    definitions: PolicyDefinition[],
    change: PolicyChange = {},
  ): Promise<PolicyVersionRecord> {
    if (!Array.isArray(definitions)) {
      throw new ValidationError('policies must be an array of policy definitions.', 'policies');
    }
    for (const [index, definition] of definitions.entries()) {
      if (JSON.stringify([definition?.name, definition?.tool]).includes('\\u0000')) {
        throw new ValidationError(
          'Policy names and tools must not contain NUL (\\u0000) characters.',
          `policies[${index}]`,
        );
      }
    }
    // Throws PolicyCompileError with every issue (compiled again below with the stored ids).
    compilePolicies(definitions);
    const now = this.clock();
    const records: PolicyRecord[] = [];
    const saved = await this.store.transaction(async (repositories) => {
      records.length = 0;
      const before = await repositories.policies.list(agentId, environment);
      const current = await repositories.policies.currentVersion(agentId, environment);
      const version = current + 1;
      const previous = new Map(before.map((policy) => [policy.name, policy]));
      await repositories.policies.deleteAll(agentId, environment);
      for (const [position, definition] of definitions.entries()) {
        const { id: _id, version: _version, ...stored } = definition;
        const old = previous.get(definition.name);
        const unchanged = old && JSON.stringify(old.definition) === JSON.stringify(stored);
        const record: PolicyRecord = {
          id: old?.id ?? uuidv7(now),
          agentId,
          environment,
          name: definition.name,
          tool: definition.tool,
          definition: stored as Record<string, unknown>,
          position,
          version: unchanged ? old.version : version,
          createdBy: unchanged ? old.createdBy : (change.createdBy ?? null),
          createdAt: old?.createdAt ?? now,
          updatedAt: unchanged ? old.updatedAt : now,
        };
        await repositories.policies.insert(record);
        // As the store gives it back (a JSON round trip), for the compiled set's cache below.
        records.push({ ...record, definition: JSON.parse(JSON.stringify(stored)) });
      }
      const record: PolicyVersionRecord = {
        agentId,
        environment,
        version,
        policies: definitions.map(({ id: _id, version: _version, ...stored }) => stored) as Record<
          string,
          unknown
        >[],
        diff: diffOf(
          before,
          definitions.map(
            ({ id: _id, version: _version, ...stored }) => stored as PolicyDefinition,
          ),
        ),
        message: change.message ?? null,
        createdBy: change.createdBy ?? null,
        createdAt: now,
      };
      await repositories.policies.insertVersion(record);
      return record;
    });
    this.changed(agentId, environment);
    // The new set is compiled now, for the checks after the save: none of them waits for a
    // compile or for the shell parser (`compileStored` waits for it). The save is answered once
    // the set is ready; a later save's set is not replaced by this one.
    this.install(
      this.key(agentId, environment),
      await this.compileStored(agentId, environment, saved.version, records, this.clock()),
    );
    return saved;
  }

  /** Adds or replaces one policy (by name) in the set; a new version. */
  async savePolicy(
    agentId: string,
    environment: Environment,
    definition: PolicyDefinition,
    change: PolicyChange = {},
  ): Promise<PolicyVersionRecord> {
    const current = await this.store.policies.list(agentId, environment);
    const definitions = current.map((policy) => policy.definition as unknown as PolicyDefinition);
    const index = definitions.findIndex((policy) => policy.name === definition?.name);
    if (index === -1) definitions.push(definition);
    else definitions[index] = definition;
    return this.saveSet(agentId, environment, definitions, change);
  }

  /** Removes one policy by name; a new version. Throws `NotFoundError`. */
  async deletePolicy(
    agentId: string,
    environment: Environment,
    name: string,
    change: PolicyChange = {},
  ): Promise<PolicyVersionRecord> {
    const current = await this.store.policies.list(agentId, environment);
    if (!current.some((policy) => policy.name === name)) {
      throw new NotFoundError(`No policy named "${name}" for this agent in ${environment}.`);
    }
    return this.saveSet(
      agentId,
      environment,
      current
        .filter((policy) => policy.name !== name)
        .map((policy) => policy.definition as unknown as PolicyDefinition),
      change,
    );
  }

  /** Restores an earlier version's set as a new version. */
  async rollback(
    agentId: string,
    environment: Environment,
    version: number,
    change: PolicyChange = {},
  ): Promise<PolicyVersionRecord> {
    const old = await this.store.policies.getVersion(agentId, environment, version);
    if (!old)
      throw new NotFoundError(`No policy version ${version} for this agent in ${environment}.`);
    return this.saveSet(agentId, environment, old.policies as unknown as PolicyDefinition[], {
      createdBy: change.createdBy ?? null,
      message: change.message ?? `Rolled back to version ${version}`,
    });
  }

  /**
   * The tools of an agent's enabled policies whose name differs from `tool` only by a prefix
   * (see `similarPolicyTools`): the hint of a check no policy matched. Reads the cached set.
   */
  async similarTools(agentId: string, environment: Environment, tool: string): Promise<string[]> {
    const entry = await this.load(agentId, environment);
    entry.policyTools ??= (entry.set?.policies ?? [])
      .filter((policy) => policy.definition.enabled !== false)
      .map((policy) => policy.tool);
    return entry.policyTools.length === 0 ? [] : similarPolicyTools(tool, entry.policyTools);
  }
}
