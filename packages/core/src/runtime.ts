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
