/** One holder per key at a time, in this process; waiters are served in order. */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Resolves with the function that releases `key` once the previous holder released it. */
  async acquire(key: string): Promise<() => void> {
    const previous = this.#tails.get(key);
    let release!: () => void;
    const current = new Promise<void>((done) => {
      release = done;
    });
    const tail = (previous ?? Promise.resolve()).then(() => current);
    this.#tails.set(key, tail);
    if (previous !== undefined) await previous;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }
}
