/** A method held at its first call: what `pauseFirstCall` returns. */
export interface PausedCall {
  /** Resolves once the first call has arrived (it then waits for `release`). */
  reached: Promise<void>;
  /** Lets the first call go on; later calls never wait. */
  release: () => void;
}

/**
 * Holds the first call of `object[method]` until `release()`, for tests that interleave two
 * requests at one point (one check paused after its read, another committed meanwhile). Later
 * calls go straight through to the original method.
 */
export function pauseFirstCall<
  T extends Record<K, (...args: never[]) => Promise<unknown>>,
  K extends PropertyKey,
>(object: T, method: K): PausedCall {
  const original = object[method].bind(object) as (...args: unknown[]) => Promise<unknown>;
  let arrived: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let first = true;
  const paused = async (...args: unknown[]) => {
    if (first) {
      first = false;
      arrived();
      await gate;
    }
    return original(...args);
  };
  object[method] = paused as unknown as T[K];
  return { reached, release };
}
