interface Batch<Request, Answer> {
  requests: Request[];
  waiters: PromiseWithResolvers<Answer>[];
}

/**
 * Requests made during one turn of the event loop, sent together: `send` answers a batch's
 * requests in their order (one statement, one round trip, however many checks asked). A batch
 * goes at the end of its turn, or at once when it holds `max` requests. A failed send fails every
 * request of its batch, and so does an answer count that differs from the requests'.
 */
export class TurnBatcher<Request, Answer> {
  #open: Batch<Request, Answer> | undefined;

  constructor(
    private readonly send: (requests: Request[]) => Promise<readonly Answer[]>,
    private readonly max: number,
  ) {}

  /** Adds `request` to this turn's batch; resolves with its answer. */
  add(request: Request): Promise<Answer> {
    let batch = this.#open;
    if (batch === undefined) {
      const started: Batch<Request, Answer> = { requests: [], waiters: [] };
      batch = started;
      this.#open = started;
      setImmediate(() => {
        if (this.#open === started) this.#open = undefined;
        this.send(started.requests).then(
          (answers) => {
            // A missing answer must not read as "nothing found" (no refusal): all fail instead.
            if (answers.length !== started.requests.length) {
              const error = new Error(
                `A batch of ${started.requests.length} memory reads got ${answers.length} answers.`,
              );
              for (const waiter of started.waiters) waiter.reject(error);
              return;
            }
            started.waiters.forEach((waiter, index) => {
              waiter.resolve(answers[index] as Answer);
            });
          },
          (error: unknown) => {
            for (const waiter of started.waiters) waiter.reject(error);
          },
        );
      });
    }
    const waiter = Promise.withResolvers<Answer>();
    batch.requests.push(request);
    batch.waiters.push(waiter);
    if (batch.requests.length >= this.max) this.#open = undefined;
    return waiter.promise;
  }
}
