import type { Arden } from './arden';
import { ConfigurationError } from './errors';
import { type SharedRegistry, sharedRegistry } from './shared-registry';

/**
 * An integration with an agent framework. Its `install` patches the framework so that tool
 * calls go through `arden`; it may return a function that undoes the patch.
 */
export interface ArdenAdapter {
  /** A unique name, for example `langchain`. */
  name: string;
  install(arden: () => Arden): undefined | (() => void);
}

/** @internal The shared registry, typed with this copy's `Arden` and `ArdenAdapter`. */
export function registry(): SharedRegistry<Arden, ArdenAdapter> {
  return sharedRegistry<Arden, ArdenAdapter>();
}

/**
 * Registers an adapter. `configure()` installs every registered adapter; an adapter registered
 * after `configure()` is installed at once. Registering the same name twice replaces nothing.
 */
export function registerAdapter(adapter: ArdenAdapter): void {
  const shared = registry();
  if (shared.adapters.has(adapter.name)) return;
  shared.adapters.set(adapter.name, adapter);
  if (shared.installed) installAdapter(adapter);
}

/** Names of the registered adapters. */
export function registeredAdapters(): string[] {
  return [...registry().adapters.keys()];
}

/** @internal Installs every registered adapter not yet installed. */
export function installAdapters(): void {
  const shared = registry();
  shared.installed = true;
  for (const adapter of shared.adapters.values()) installAdapter(adapter);
}

function installAdapter(adapter: ArdenAdapter): void {
  const shared = registry();
  if (shared.uninstalls.has(adapter.name)) return;
  const uninstall = adapter.install(() => getArden());
  shared.uninstalls.set(adapter.name, uninstall ?? (() => {}));
}

/** Undoes every adapter's patches (mainly for tests). */
export function uninstallAdapters(): void {
  const shared = registry();
  for (const uninstall of shared.uninstalls.values()) uninstall();
  shared.uninstalls.clear();
  shared.installed = false;
}

/**
 * The default instance made by `configure()`. Throws a `ConfigurationError` that says to call
 * `configure()` when there is none.
 */
export function getArden(): Arden {
  const instance = registry().defaultInstance;
  if (!instance) {
    throw new ConfigurationError(
      'Arden is not configured. Call configure() once at start-up (it reads ARDEN_API_KEY and ARDEN_API_URL), or use createArden() for an instance of your own.',
    );
  }
  return instance;
}
