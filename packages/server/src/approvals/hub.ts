/** What a waiting agent is told when its action is decided. */
export interface DecisionNotice {
  status: 'approved' | 'denied';
  message: string | null;
  /** Approved with edited arguments: the waiter re-reads the action for what its client can take. */
  edited?: boolean;
}

type Waiter = (notice: DecisionNotice | undefined) => void;

/**
 * The approval hub: long-poll requests wait here, keyed by action id, and a decision wakes every
 * waiter of that action at once. In-process; with PostgreSQL, `LISTEN/NOTIFY` calls `wake()` on
 * every replica, and a periodic re-check of the waited actions (`connectReplicas`) wakes them
 * even when a notification was lost.
 */
export class ApprovalHub {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private closed = false;

  /**
   * Waits until `actionId` is decided (resolves with the notice), `timeoutMs` passes, the
   * signal aborts or the hub closes (resolves with undefined).
   */
  wait(
    actionId: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<DecisionNotice | undefined> {
    if (this.closed || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let set = this.waiters.get(actionId);
      if (!set) {
        set = new Set();
        this.waiters.set(actionId, set);
      }
      const finish: Waiter = (notice) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const current = this.waiters.get(actionId);
        if (current) {
          current.delete(finish);
          if (current.size === 0) this.waiters.delete(actionId);
        }
        resolve(notice);
      };
      const onAbort = () => finish(undefined);
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(finish);
    });
  }

  /** Wakes every request waiting on `actionId` with the decision. */
  wake(actionId: string, notice: DecisionNotice): number {
    const set = this.waiters.get(actionId);
    if (!set) return 0;
    this.waiters.delete(actionId);
    for (const finish of [...set]) finish(notice);
    return set.size;
  }

  /** The actions someone waits on now. */
  waitingIds(): string[] {
    return [...this.waiters.keys()];
  }

  /** Requests waiting now, over all actions. */
  get waiting(): number {
    let count = 0;
    for (const set of this.waiters.values()) count += set.size;
    return count;
  }

  /** Releases every waiter (they answer with the current status) and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const finish of [...set]) finish(undefined);
    this.waiters.clear();
  }
}
