import { maskJsonText } from '../approvals/exact-edit';
import type { SecretBox } from '../channels/secrets';
import { ConflictError, NotFoundError } from '../errors';
import { uuidv7 } from '../ids';
import type { Logger } from '../logger';
import type { ActionRecord, DeliveryRecord, NewAction, Store } from '../store';
import type { Statement } from '../store/database';
import type { Repositories } from '../store/repositories';
import { sensitiveRepository } from './repository';

// Sensitive arguments: a policy's `redact` paths. The call's verbatim argument JSON is sealed
// with the server's secrets key (the SecretBox of channel secrets, ARDEN_SECRETS_KEY) in its own
// table; the action keeps a copy whose sensitive values read "[redacted]", which is what every
// reader sees: the admin API and dashboard, /status, webhooks, Slack and e-mail messages, live
// events. An admin can read the verbatim call on purpose, and each such read is logged.

/** What replaces a sensitive value in the stored call. */
export const redactedValue = '[redacted]';

/**
 * `kwargs` with the values at `paths` (dot-separated names; a list on the way applies the rest
 * of the path to each item) replaced by "[redacted]", and the paths that were present.
 */
export function maskArguments(
  kwargs: Record<string, unknown>,
  paths: readonly string[],
): { masked: Record<string, unknown>; found: string[] } {
  const masked = structuredClone(kwargs);
  const found: string[] = [];
  for (const path of paths) {
    if (maskPath(masked, path.split('.'))) found.push(path);
  }
  return { masked, found };
}

function maskPath(node: unknown, names: readonly string[]): boolean {
  if (Array.isArray(node)) {
    let any = false;
    for (const item of node) any = maskPath(item, names) || any;
    return any;
  }
  if (node === null || typeof node !== 'object') return false;
  const [name, ...rest] = names as [string, ...string[]];
  const record = node as Record<string, unknown>;
  if (!Object.hasOwn(record, name)) return false;
  if (rest.length === 0) {
    record[name] = redactedValue;
    return true;
  }
  return maskPath(record[name], rest);
}

// Node.js 21+ (the server needs 22): JSON.rawJSON writes a number's digits as they are.
interface RawJsonApi {
  rawJSON(text: string): unknown;
}

function stringifyWide(value: unknown): string {
  return JSON.stringify(value, (_, item) =>
    typeof item === 'bigint' ? (JSON as unknown as RawJsonApi).rawJSON(item.toString()) : item,
  );
}

/** The sealed form of a call's verbatim arguments. */
interface SealedCall {
  args_json: string;
  kwargs_json: string;
}

/** Seals, masks and reveals sensitive arguments. */
export class SensitiveArguments {
  constructor(
    private readonly store: Store,
    /** The server's secrets box (opened by the channel service: one key for every secret). */
    private readonly box: () => SecretBox,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * For a new action whose policy marks `paths` sensitive: the action to store (masked), and the
   * INSERT of its sealed verbatim arguments, to commit with it. Undefined when no path is in
   * the call.
   */
  redact(
    action: NewAction,
    paths: readonly string[],
  ): { stored: NewAction; statement: Statement; paths: string[] } | undefined {
    if (paths.length === 0) return undefined;
    // From the JSON text as sent (the parsed arguments may hold BigInts for exact integers).
    const sealed: SealedCall = {
      args_json: action.argsJson ?? stringifyWide(action.args),
      kwargs_json: action.kwargsJson ?? stringifyWide(action.kwargs),
    };
    // Masked in the text: the values that are not sensitive keep their bytes (12345678901234567891,
    // 1.0, key order and escapes), as an unmasked call's do.
    const { text, found } = maskJsonText(sealed.kwargs_json, paths, JSON.stringify(redactedValue));
    if (found.length === 0) return undefined;
    return {
      stored: { ...action, kwargs: JSON.parse(text), kwargsJson: text },
      statement: sensitiveRepository(this.store.database).insertStatement({
        actionId: action.id,
        paths: found,
        sealed: this.box().seal(sealed as unknown as Record<string, string>),
        createdAt: action.createdAt,
      }),
      paths: found,
    };
  }

  /** The verbatim call of a stored action with sensitive arguments (for its receipts), if any. */
  async verbatim(
    repositories: Pick<Repositories, 'sensitive'>,
    action: ActionRecord,
  ): Promise<{ action: ActionRecord; paths: string[] } | undefined> {
    const record = await repositories.sensitive.get(action.id);
    if (!record) return undefined;
    const call = this.box().open(record.sealed) as unknown as SealedCall;
    return {
      action: {
        ...action,
        argsJson: call.args_json,
        kwargsJson: call.kwargs_json,
        args: JSON.parse(call.args_json),
        kwargs: JSON.parse(call.kwargs_json),
      },
      paths: record.paths,
    };
  }

  /** Whether an action has sensitive arguments. */
  async has(repositories: Pick<Repositories, 'sensitive'>, actionId: string): Promise<boolean> {
    return (await repositories.sensitive.get(actionId)) !== undefined;
  }

  /**
   * The body of a webhook delivery with its action's sensitive values in full, for an agent whose
   * settings say so (`webhook_sensitive_in_full`): the masked `context` is replaced by the call's
   * verbatim keyword arguments, byte for byte. Each time is logged like an admin's reveal (no
   * user; the reason names the delivery). Undefined when the action has no sensitive arguments;
   * throws (the attempt fails, to be retried) when the values cannot be opened — a receiver that
   * asked for them never gets "[redacted]" in their place.
   */
  async unmaskWebhook(delivery: DeliveryRecord): Promise<string | undefined> {
    if (delivery.actionId === null) return undefined;
    const record = await this.store.sensitive.get(delivery.actionId);
    if (!record) return undefined;
    const action = await this.store.actions.get(delivery.actionId);
    if (!action) return undefined;
    const call = this.box().open(record.sealed) as unknown as SealedCall;
    // The body is written by webhookBody: `"context":` followed by the stored (masked) keyword
    // arguments as they are. Keys and string values before it cannot hold an unescaped quote, so
    // the first match is the action's context.
    const masked = `"context":${action.kwargsJson}`;
    const at = delivery.payload.indexOf(masked);
    if (at < 0) {
      throw new Error(
        `the body of webhook delivery ${delivery.eventId} does not hold the stored call, so its sensitive values cannot be put back`,
      );
    }
    const readAt = this.clock();
    await this.store.sensitive.recordRead({
      id: uuidv7(readAt),
      actionId: delivery.actionId,
      userId: null,
      userEmail: null,
      reason: `webhook delivery ${delivery.eventId}: the agent's settings send sensitive values in full (webhook_sensitive_in_full)`,
      readAt,
    });
    this.logger.info('Sensitive arguments sent in full in a webhook', {
      actionId: delivery.actionId,
      agentId: delivery.agentId,
      eventId: delivery.eventId,
      paths: record.paths,
    });
    return (
      delivery.payload.slice(0, at) +
      `"context":${call.kwargs_json}` +
      delivery.payload.slice(at + masked.length)
    );
  }

  /**
   * An admin's explicit read of an action's verbatim arguments: logged (who, when, why) before
   * it is answered.
   */
  async reveal(
    actionId: string,
    reader: { userId: string | null; email: string | null },
    reason: string | null,
  ): Promise<{ paths: string[]; argsJson: string; kwargsJson: string; readAt: number }> {
    const record = await this.store.sensitive.get(actionId);
    if (!record) {
      if (!(await this.store.actions.get(actionId)))
        throw new NotFoundError(`No action ${actionId}.`);
      throw new ConflictError(
        `Action ${actionId} has no sensitive arguments: its arguments are shown in full already.`,
      );
    }
    const call = this.box().open(record.sealed) as unknown as SealedCall;
    const readAt = this.clock();
    await this.store.sensitive.recordRead({
      id: uuidv7(readAt),
      actionId,
      userId: reader.userId,
      userEmail: reader.email,
      reason,
      readAt,
    });
    this.logger.info('Sensitive arguments read in full', {
      actionId,
      userId: reader.userId,
      paths: record.paths,
    });
    return { paths: record.paths, argsJson: call.args_json, kwargsJson: call.kwargs_json, readAt };
  }
}
