import type { Environment } from '../crypto';
import type { Logger } from '../logger';
import type { ReceiptService } from '../receipts/service';
import type { Store } from '../store';
import { type CheckpointClaims, checkpointType, entryHash, genesisHash } from './chain';
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
        head.hash = entryHash(head.hash, head.position, receipt.receipt);
        await repositories.audit.seal(receipt.seq, head.position, head.hash);
        touched.add(head);
      }
      const chains = forceCheckpoint ? new Set(heads.values()) : touched;
      for (const head of chains) {
        const due =
          forceCheckpoint ||
          head.checkpointAt === null ||
          now - head.checkpointAt >= this.options.checkpointIntervalMs;
        if (due && head.position > 0) {
          const checkpoint = this.sign(head, now);
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

  private sign(head: AuditHead, now: number): AuditCheckpoint | undefined {
    const claims: CheckpointClaims = {
      v: 1,
      type: 'arden-audit-checkpoint',
      agent_id: head.agentId,
      environment: head.environment,
      position: head.position,
      hash: head.hash,
      at: now,
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
   * prefix, so the rest still verifies) and anchors the chain at the last deleted entry.
   */
  async prune(cutoff: number): Promise<number> {
    await this.seal();
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
        const hash = await repositories.audit.hashAt(head.agentId, head.environment, through);
        if (hash === undefined) continue;
        deleted += await repositories.audit.deleteThrough(head.agentId, head.environment, through);
        await repositories.audit.saveHead({
          ...head,
          anchorPosition: through,
          anchorHash: hash,
          anchoredAt: cutoff,
        });
      }
      return deleted;
    });
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
