import { expect, it } from 'vitest';
import { TurnBatcher } from './turn-batch';

it('sends the requests of one turn together and answers each its own', async () => {
  const sent: number[][] = [];
  const batcher = new TurnBatcher<number, number>(async (requests) => {
    sent.push([...requests]);
    return requests.map((request) => request * 10);
  }, 3);
  const answers = await Promise.all([1, 2, 3, 4].map((request) => batcher.add(request)));
  expect(answers).toEqual([10, 20, 30, 40]);
  // At most 3 a batch: the fourth went in a batch of its own.
  expect(sent).toEqual([[1, 2, 3], [4]]);
});

it('fails every request of a batch whose answers do not match its requests', async () => {
  const batcher = new TurnBatcher<number, number | undefined>(async () => [undefined], 10);
  const results = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
  expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
});
