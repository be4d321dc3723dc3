import type { Arden } from './arden';
import { ConfigurationError } from './errors';

/**
 * An integration with an agent framework. Its `install` patches the framework so that tool
 * calls go through `arden`; it may return a function that undoes the patch.
 */
export interface ArdenAdapter {
  /** A unique name, for example `langchain`. */
  name: string;
  install(arden: () => Arden): undefined | (() => void);
}

/** @internal A tool guarded in webhook mode. */
export interface WebhookTool {
  fn: (...args: any[]) => unknown;
  argNames: readonly string[] | undefined;
  options: {
    onApproval?: (result: any, event: any) => unknown;
    onDenial?: (error: unknown, event: any) => unknown;
  };
}

interface Registry {
  webhookTools: Map<string, WebhookTool>;
  adapters: Map<string, ArdenAdapter>;
  uninstalls: Map<string, () => void>;
  installed: boolean;
  defaultInstance: Arden | undefined;
}

// Kept on globalThis so that adapters compiled against another copy of @arden/core register
// with the same registry and see the same default instance.
const registryKey = Symbol.for('arden.registry');

/** @internal The shared registry. */
export function registry(): Registry {
  const global = globalThis as Record<symbol, Registry | undefined>;
  let existing = global[registryKey];
  if (!existing) {
    existing = {
      webhookTools: new Map(),
      adapters: new Map(),
      uninstalls: new Map(),
      installed: false,
      defaultInstance: undefined,
    };
    global[registryKey] = existing;
  }
  return existing;
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

/** @internal Tools guarded in webhook mode, by name. */
export function webhookTools(): Map<string, WebhookTool> {
  return registry().webhookTools;
}
