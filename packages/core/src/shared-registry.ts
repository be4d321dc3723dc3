/**
 * The registry every copy of `@arden/core` shares through `globalThis`: registered adapters, the
 * default instance, and the tools guarded in webhook mode. It knows nothing of the `Arden` class
 * (the typed view is `registry()` in `registry.ts`), so that the modules the class is built from
 * can reach it without an import cycle.
 */

/** @internal A tool guarded in webhook mode. */
export interface WebhookTool {
  fn: (...args: any[]) => unknown;
  argNames: readonly string[] | undefined;
  options: {
    onApproval?: (result: any, event: any) => unknown;
    onDenial?: (error: unknown, event: any) => unknown;
  };
}

/** @internal The shared registry, with the types of its instance and adapters as parameters. */
export interface SharedRegistry<Instance, Adapter> {
  webhookTools: Map<string, WebhookTool>;
  adapters: Map<string, Adapter>;
  uninstalls: Map<string, () => void>;
  installed: boolean;
  defaultInstance: Instance | undefined;
}

// Kept on globalThis so that adapters compiled against another copy of @arden/core register
// with the same registry and see the same default instance.
const registryKey = Symbol.for('arden.registry');

/**
 * @internal The shared registry. Only `registry.ts` names the types of its instance and
 * adapters; the modules below the `Arden` class use the webhook tools only.
 */
export function sharedRegistry<Instance = unknown, Adapter = unknown>(): SharedRegistry<
  Instance,
  Adapter
> {
  const global = globalThis as Record<symbol, SharedRegistry<Instance, Adapter> | undefined>;
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

/** @internal Tools guarded in webhook mode, by name. */
export function webhookTools(): Map<string, WebhookTool> {
  return sharedRegistry().webhookTools;
}
