import type { Environment } from '../crypto';
import type { Logger } from '../logger';
import type { ReceiptService } from '../receipts/service';
import type { Store } from '../store';
import {
  type AnchorClaims,
  anchorType,
  type CheckpointClaims,
  checkpointType,
  entryHash,
  entryHashOfDigest,
  genesisHash,
} from './chain';
import type { AuditCheckpoint, AuditHead } from './repository';
import { type AuditReport, type VerifyAuditOptions, verifyAudit } from './verify';

const sealBatch = 500;

/**
 * The audit chain: a background sealer chains new receipts (per agent and environment), in
 * batches, off the hot path — a check only inserts its receipt in its group commit — and signs
 * checkpoints of each chain now and then; retention prunes chains from the front and leaves an
 * anchor; `verify()` walks every chain.
 */
export class AuditService {
  private timer: ReturnType<typeof setInterval> | undefined;
  private sealing: Promise<number> | undefined;

  constructor(
    private readonly store: Store,
    private readonly receipts: ReceiptService,
    private readonly logger: Logger,
    private readonly options: {
      clock: () => number;
      sealIntervalMs: number;
      checkpointIntervalMs: number;
    },
  ) {}

  /** Chains every receipt not chained yet; returns how many. One sealer at a time. */
  seal(options: { checkpoint?: boolean } = {}): Promise<number> {
    if (this.sealing) {
      return this.sealing.then(() => this.seal(options));
    }
    this.sealing = (async () => {
      let count = 0;
      for (;;) {
        const sealed = await this.sealOnce(options.checkpoint === true);
        count += sealed;
        if (sealed < sealBatch) break;
      }
      return count;
    })().finally(() => {
      this.sealing = undefined;
    });
    return this.sealing;
  }

  private async sealOnce(forceCheckpoint: boolean): Promise<number> {
    const now = this.options.clock();
    return this.store.transaction(async (repositories) => {
      await repositories.audit.lockChains();
      const pending = await repositories.audit.unsealed(sealBatch);
      const heads = new Map<string, AuditHead>();
      for (const head of await repositories.audit.heads()) {
        heads.set(`${head.agentId}|${head.environment}`, head);
      }
      const touched = new Set<AuditHead>();
      // When each touched chain's last entry was written (for the checkpoint's `entry_at`).
      const lastAt = new Map<AuditHead, number>();
      const sealed: { seq: number; position: number; hash: string }[] = [];
      for (const receipt of pending) {
        const key = `${receipt.agentId}|${receipt.environment}`;
        let head = heads.get(key);
        if (!head) {
          const genesis = genesisHash(receipt.agentId, receipt.environment);
          head = {
            agentId: receipt.agentId,
            environment: receipt.environment,
            position: 0,
            hash: genesis,
            anchorPosition: 0,
            anchorHash: genesis,
            anchoredAt: null,
            checkpointAt: null,
          };
          heads.set(key, head);
        }
        head.position += 1;
        head.hash = entryHashOfDigest(head.hash, head.position, receipt.digest);
        sealed.push({ seq: receipt.seq, position: head.position, hash: head.hash });
        touched.add(head);
        lastAt.set(head, receipt.createdAt);
      }
      await repositories.audit.sealMany(sealed);
      const chains = forceCheckpoint ? new Set(heads.values()) : touched;
      for (const head of chains) {
        const due =
          forceCheckpoint ||
          head.checkpointAt === null ||
          now - head.checkpointAt >= this.options.checkpointIntervalMs;
        if (due && head.position > 0) {
          const entryAt =
            lastAt.get(head) ??
            (await repositories.audit.entryAt(head.agentId, head.environment, head.position))
              ?.createdAt;
          const checkpoint = this.sign(head, now, entryAt);
          if (checkpoint) {
            await repositories.audit.addCheckpoint(checkpoint);
            head.checkpointAt = now;
          }
        }
        await repositories.audit.saveHead(head);
      }
      return pending.length;
    });
  }

  private sign(
    head: AuditHead,
    now: number,
    entryAt: number | undefined,
  ): AuditCheckpoint | undefined {
    const claims: CheckpointClaims = {
      v: 1,
      type: 'arden-audit-checkpoint',
      agent_id: head.agentId,
      environment: head.environment,
      position: head.position,
      hash: head.hash,
      at: now,
      ...(entryAt !== undefined ? { entry_at: entryAt } : {}),
    };
    const checkpoint = this.receipts.signStatement(claims, checkpointType);
    if (!checkpoint) return undefined;
    return {
      agentId: head.agentId,
      environment: head.environment,
      position: head.position,
      hash: head.hash,
      checkpoint,
      createdAt: now,
    };
  }

  /**
   * Retention: deletes each chain's receipts older than `cutoff` from the front (a whole
   * prefix, so the rest still verifies) and anchors the chain at the last deleted entry, with a
   * signed anchor statement (stored with the checkpoints) that says so: `arden audit verify`
   * starts a chain only from a signed anchor, so an anchor moved by hand is detected. Before
   * deleting, it checks that the removed entries still chain from the previous anchor; when they
   * do not (rows deleted or changed by hand before), the statement says so (`intact: false`) and
   * verification keeps reporting it. Without a signing key (receipts off) no receipt is deleted.
   */
  async prune(cutoff: number): Promise<number> {
    if (!this.receipts.enabled) {
      this.logger.warn(
        'Audit retention skipped: receipts are off, so no retention anchor can be signed; the receipts are kept.',
      );
      return 0;
    }
    await this.seal();
    const now = this.options.clock();
    return this.store.transaction(async (repositories) => {
      await repositories.audit.lockChains();
      let deleted = 0;
      for (const head of await repositories.audit.heads()) {
        const first = await repositories.audit.firstPositionFrom(
          head.agentId,
          head.environment,
          cutoff,
        );
        const through = first === undefined ? head.position : first - 1;
        if (through <= head.anchorPosition) continue;
        const entry = await repositories.audit.entryAt(head.agentId, head.environment, through);
        if (entry === undefined) continue;
        const problems = await this.checkSegment(repositories.audit, head, through);
        const claims: AnchorClaims = {
          v: 1,
          type: 'arden-audit-anchor',
          agent_id: head.agentId,
          environment: head.environment,
          position: through,
          hash: entry.hash,
          cutoff,
          previous: { position: head.anchorPosition, hash: head.anchorHash },
          removed: 0,
          intact: problems.length === 0,
          ...(problems.length > 0 ? { problems } : {}),
          at: now,
        };
        if (problems.length > 0) {
          this.logger.error(
            'Audit retention removed entries whose chain was already broken; the signed anchor records it',
            { agentId: head.agentId, environment: head.environment, problems },
          );
        }
        claims.removed = await repositories.audit.deleteThrough(
          head.agentId,
          head.environment,
          through,
        );
        deleted += claims.removed;
        const anchor = this.receipts.signStatement(claims, anchorType);
        if (!anchor) throw new Error('The retention anchor could not be signed.');
        await repositories.audit.addCheckpoint({
          agentId: head.agentId,
          environment: head.environment,
          position: through,
          hash: entry.hash,
          checkpoint: anchor,
          createdAt: now,
        });
        await repositories.audit.saveHead({
          ...head,
          anchorPosition: through,
          anchorHash: entry.hash,
          anchoredAt: cutoff,
        });
      }
      return deleted;
    });
  }

  /** What is wrong with a chain's entries from its anchor through `through` (empty: intact). */
  private async checkSegment(
    audit: Store['audit'],
    head: AuditHead,
    through: number,
  ): Promise<string[]> {
    const problems: string[] = [];
    let position = head.anchorPosition;
    let previous = head.anchorHash;
    while (position < through && problems.length < 20) {
      const rows = await audit.chain(head.agentId, head.environment, position, 1_000);
      if (rows.length === 0) break;
      for (const row of rows) {
        const at = row.chainPosition ?? position + 1;
        if (at > through) break;
        if (at !== position + 1) {
          problems.push(`entries ${position + 1} to ${at - 1} were missing`);
        } else if (entryHash(previous, at, row.receipt) !== row.chainHash) {
          problems.push(`entry ${at} did not follow from the entry before`);
        }
        position = at;
        previous = row.chainHash ?? previous;
      }
      if ((rows.at(-1)?.chainPosition ?? through) >= through) break;
    }
    return problems;
  }

  /** Stored checkpoints (for export: keep them elsewhere to check the chain against later). */
  checkpoints(filter: { agentId?: string; environment?: Environment } = {}) {
    return this.store.audit.checkpoints(filter);
  }

  /** Seals what is pending, then walks every chain; see `verifyAudit`. */
  async verify(options: Omit<VerifyAuditOptions, 'keys'> = {}): Promise<AuditReport> {
    await this.seal();
    return verifyAudit(this.store, { ...options, keys: this.receipts.keysDocument().keys });
  }

  /** Starts the sealer. */
  start(): void {
    this.stop();
    this.timer = setInterval(() => {
      void this.seal().catch((error) => this.logger.error('Audit sealing failed', { error }));
    }, this.options.sealIntervalMs);
    this.timer.unref?.();
  }

  /** Stops the sealer and waits for a pass in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sealing?.catch(() => undefined);
  }
}
