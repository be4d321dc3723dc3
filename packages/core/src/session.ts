import { getBuiltin } from './runtime';

interface SessionStore {
  sessionId: string | undefined;
}

interface AsyncLocalStorageLike<T> {
  getStore(): T | undefined;
  run<R>(store: T, callback: () => R): R;
  enterWith(store: T): void;
}

type AsyncLocalStorageConstructor = new <T>() => AsyncLocalStorageLike<T>;

// The storage lives on globalThis under a registered symbol so that two copies of @arden/core in
// one process (nested node_modules, ESM beside CJS) share one session: a session set through one
// copy is seen by adapters that imported the other.
const storageKey = Symbol.for('arden.session.storage');

interface SessionHolder {
  storage: AsyncLocalStorageLike<SessionStore> | undefined;
  // Used only on runtimes without AsyncLocalStorage, where sessions cannot be per request.
  fallback: SessionStore;
}

function holder(): SessionHolder {
  const global = globalThis as Record<symbol, SessionHolder | undefined>;
  let existing = global[storageKey];
  if (!existing) {
    const AsyncLocalStorage =
      getBuiltin<{ AsyncLocalStorage: AsyncLocalStorageConstructor }>('node:async_hooks')
        ?.AsyncLocalStorage ??
      (globalThis as { AsyncLocalStorage?: AsyncLocalStorageConstructor }).AsyncLocalStorage;
    existing = {
      storage: AsyncLocalStorage ? new AsyncLocalStorage<SessionStore>() : undefined,
      fallback: { sessionId: undefined },
    };
    global[storageKey] = existing;
  }
  return existing;
}

/**
 * Sets the session for the current async context and everything it starts afterwards (like a
 * Python contextvar): concurrent requests that each call `setSession` never see each other's.
 * Every check and usage record made in this context carries the session id.
 *
 * The current context is the caller's too (`AsyncLocalStorage.enterWith`): called in a function,
 * or in an `async` function before its first `await`, the session stays set in the caller after
 * the call returns. To scope a session to one piece of work, use `withSession`.
 */
export function setSession(sessionId: string): void {
  if (typeof sessionId !== 'string' || sessionId.length === 0) {
    throw new TypeError('setSession(sessionId) needs a non-empty string.');
  }
  const { storage, fallback } = holder();
  if (storage) storage.enterWith({ sessionId });
  else fallback.sessionId = sessionId;
}

/** The current session id, or undefined when none is set. */
export function getSession(): string | undefined {
  const { storage, fallback } = holder();
  if (storage) return storage.getStore()?.sessionId;
  return fallback.sessionId;
}

/** Clears the session of the current async context. */
export function clearSession(): void {
  const { storage, fallback } = holder();
  if (storage) storage.enterWith({ sessionId: undefined });
  else fallback.sessionId = undefined;
}

/**
 * Runs `fn` with `sessionId` as the session; the session ends when `fn` (and what it awaited)
 * ends, and the caller's session is what it was before, even when `fn` calls `setSession`.
 * Prefer this over `setSession` in request handlers: `setSession` also changes the caller's.
 */
export function withSession<R>(sessionId: string, fn: () => R): R {
  if (typeof sessionId !== 'string' || sessionId.length === 0) {
    throw new TypeError('withSession(sessionId, fn) needs a non-empty string.');
  }
  const { storage, fallback } = holder();
  if (storage) return storage.run({ sessionId }, fn);
  const previous = fallback.sessionId;
  fallback.sessionId = sessionId;
  try {
    const result = fn();
    if (result instanceof Promise) {
      return result.finally(() => {
        fallback.sessionId = previous;
      }) as R;
    }
    fallback.sessionId = previous;
    return result;
  } catch (error) {
    fallback.sessionId = previous;
    throw error;
  }
}
