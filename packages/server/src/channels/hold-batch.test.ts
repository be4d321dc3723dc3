import { describe, expect, test } from 'vitest';
import type { Store } from '../store';
import { HoldBatcher, type HoldRequest } from './hold-batch';

/** A store whose `registerHolds` records when each batch started and of how many calls. */
function recordingStore(duration = 0) {
  const batches: { at: number; ids: string[] }[] = [];
  const store = {
    channels: {
      async registerHolds(holds: readonly HoldRequest[]) {
        batches.push({ at: performance.now(), ids: holds.map((hold) => hold.actionId) });
        if (duration > 0) await new Promise((resolve) => setTimeout(resolve, duration));
        return holds.map(() => ({ notify: null, marked: true, registered: true }));
      },
    },
  } as unknown as Store;
  return { store, batches };
}

const hold = (actionId: string): HoldRequest => ({ actionId, agentId: 'a', readDefaults: true });

describe('HoldBatcher', () => {
  test('an idle batcher writes at once; calls held soon after wait for the spacing and go together', async () => {
    const { store, batches } = recordingStore();
    // A long spacing, so that a loaded machine's stalls of a few hundred ms cannot split the batch.
    const batcher = new HoldBatcher(store, () => Date.now(), 500, 1000);
    const started = performance.now();
    await batcher.add(hold('first'));
    // Nothing before it: written in the same few ms, not after the spacing.
    expect(batches).toHaveLength(1);
    expect((batches[0]?.at ?? 0) - started).toBeLessThan(500);
    // Three more, held one after another within the spacing: one batch, 1 s after the first.
    const later: Promise<unknown>[] = [];
    later.push(batcher.add(hold('second')));
    await new Promise((resolve) => setTimeout(resolve, 5));
    later.push(batcher.add(hold('third')), batcher.add(hold('fourth')));
    const outcomes = await Promise.all(later);
    expect(outcomes).toEqual([
      { notify: null, marked: true, registered: true },
      { notify: null, marked: true, registered: true },
      { notify: null, marked: true, registered: true },
    ]);
    expect(batches.map((batch) => batch.ids)).toEqual([['first'], ['second', 'third', 'fourth']]);
    // Never sooner than the spacing, even though a timer may fire a ms or two early.
    expect((batches[1]?.at ?? 0) - (batches[0]?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  test('calls held while a batch is written go in the next one, no sooner than the spacing', async () => {
    const { store, batches } = recordingStore(15);
    const batcher = new HoldBatcher(store, () => Date.now(), 2, 100);
    // Five at once with at most two a batch: three batches, in order, each 100 ms after the last.
    const all = await Promise.all(['1', '2', '3', '4', '5'].map((id) => batcher.add(hold(id))));
    expect(all).toHaveLength(5);
    expect(batches.map((batch) => batch.ids)).toEqual([['1', '2'], ['3', '4'], ['5']]);
    for (let index = 1; index < batches.length; index++) {
      expect((batches[index]?.at ?? 0) - (batches[index - 1]?.at ?? 0)).toBeGreaterThanOrEqual(100);
    }
  });

  test('a failed batch fails its own calls only', async () => {
    let calls = 0;
    const store = {
      channels: {
        async registerHolds(holds: readonly HoldRequest[]) {
          calls++;
          if (calls === 1) throw new Error('the database is down');
          return holds.map(() => ({ notify: null, marked: true, registered: true }));
        },
      },
    } as unknown as Store;
    const batcher = new HoldBatcher(store, () => Date.now(), 500, 5);
    await expect(batcher.add(hold('lost'))).rejects.toThrow('the database is down');
    await expect(batcher.add(hold('next'))).resolves.toEqual({
      notify: null,
      marked: true,
      registered: true,
    });
  });
});
