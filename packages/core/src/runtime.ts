// Access to platform features without importing Node built-ins, so the same build loads on
// Node, Bun, Deno and edge runtimes. `process.getBuiltinModule` exists on Node >= 20.16.

interface ProcessLike {
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
  once?: (event: string, listener: (...args: unknown[]) => void) => unknown;
  versions?: { node?: string };
}

/** The global `process`, where the runtime has one. */
export function getProcess(): ProcessLike | undefined {
  const candidate = (globalThis as { process?: ProcessLike }).process;
  return candidate && typeof candidate === 'object' ? candidate : undefined;
}

/** An environment variable, or undefined on runtimes without `process.env`. */
export function readEnv(name: string): string | undefined {
  try {
    const value = getProcess()?.env?.[name];
    return value === undefined || value === '' ? undefined : value;
  } catch {
    return undefined;
  }
}

/** A Node built-in module, or undefined where the runtime has none. */
export function getBuiltin<T>(id: string): T | undefined {
  try {
    return getProcess()?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}

/** A timer that does not keep the process alive. */
export function unrefTimer(handle: unknown): void {
  const timer = handle as { unref?: () => void } | undefined;
  if (timer && typeof timer.unref === 'function') timer.unref();
}

export const sleep = (milliseconds: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, milliseconds));

// One 'beforeExit' listener for the whole process, shared by every instance and every copy of
// core, instead of one listener per queue (which trips Node's MaxListeners warning).
const exitHooksKey = Symbol.for('arden.exit-hooks');

/**
 * Runs `hook` when the event loop empties ('beforeExit'), where async work still completes.
 * Returns a function that removes it.
 */
export function onBeforeExit(hook: () => void): () => void {
  const global = globalThis as Record<symbol, Set<() => void> | undefined>;
  let hooks = global[exitHooksKey];
  if (!hooks) {
    const created = new Set<() => void>();
    hooks = created;
    global[exitHooksKey] = created;
    getProcess()?.once?.('beforeExit', function runHooks() {
      for (const run of created) {
        try {
          run();
        } catch {
          // A failing flush must not stop the others.
        }
      }
      // Flushing may schedule more work; listen again for the next time the loop empties.
      if (created.size > 0) getProcess()?.once?.('beforeExit', runHooks);
    });
  }
  hooks.add(hook);
  const registered = hooks;
  return () => {
    registered.delete(hook);
  };
}
