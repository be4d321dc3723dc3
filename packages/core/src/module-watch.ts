/**
 * Module watches, for adapters that patch a framework's classes: every copy of the framework a
 * process loads — its ESM and CommonJS builds, nested or duplicate installs, loaded before or
 * after the adapter — is handed to the adapter as soon as its module is evaluated, before the
 * code that loaded it gets its exports. So no call can reach a copy the adapter has not patched.
 *
 * - CommonJS builds (and ES modules loaded with `require`): `Module._extensions` is wrapped, and
 *   `require.cache` is read for those loaded before.
 * - ES module builds: a load hook appends one statement to the watched modules, which hands the
 *   module's namespace over when it is evaluated — `module.registerHooks` (in-thread, Node ≥
 *   22.15) or `module.register` (Node ≥ 20.6). Those loaded before are found from the adapter's,
 *   the working directory's and the entry script's resolution and read with `require(esm)` (Node
 *   ≥ 20.19), which returns the module the ESM loader already evaluated.
 *
 * Where a mechanism is missing (not Node, or an old Node) the watch says so in its gaps, and the
 * adapter warns: a copy it cannot see would run unchecked.
 */

/** What a watch could not set up on this runtime. */
export interface ModuleWatchGaps {
  /** CommonJS copies loaded later cannot be seen. */
  commonjs: boolean;
  /** ES module copies loaded later cannot be seen (no module hooks). */
  esm: boolean;
}

/** What to watch. */
export interface ModuleWatchOptions {
  /** Names the watch; one per id and process: a second call replaces `onModule`. */
  id: string;
  /**
   * The module files to hand over, matched against the file path or URL. Its source is sent to
   * Node 20's loader thread, so it must not depend on flags other than `i`.
   */
  pattern: RegExp;
  /** The package whose copies loaded before the watch are looked for, and its matching subpaths. */
  packageName: string;
  subpaths: string[];
  /** Where the adapter is (`import.meta.url` or `__filename`). */
  from: string;
  /**
   * Packages that may carry a copy of their own (nested installs), looked up from the same
   * places: copies resolvable from them are found too.
   */
  alsoFrom?: string[];
  /** Called with each evaluated module; may be called more than once for one module. */
  onModule(exports: Record<string, unknown>, location: string): void;
  /**
   * Also hand over the matching modules loaded before (default true). An adapter starting its
   * watch on import passes false, and looks for them when it is installed: finding them loads
   * the framework's other module build.
   */
  findLoaded?: boolean;
}

interface NodeRequireLike {
  (id: string): any;
  resolve(id: string): string;
}

type LoadResult = { format?: string; source?: unknown };

interface NodeModuleApi {
  createRequire(from: string): NodeRequireLike;
  registerHooks?: (hooks: {
    load: (
      url: string,
      context: unknown,
      next: (url: string, context: unknown) => LoadResult,
    ) => LoadResult;
  }) => unknown;
  register?: (specifier: string) => void;
  _extensions?: Record<string, (module: { exports: unknown }, filename: string) => void>;
  _cache?: Record<string, { exports: unknown; loaded?: boolean } | undefined>;
}

interface Watch {
  options: ModuleWatchOptions;
  gaps: ModuleWatchGaps;
}

const watchesKey = Symbol.for('arden.module-watches');
const announceKey = 'arden.module-watch.loaded';

function watches(): Map<string, Watch> {
  const global = globalThis as Record<symbol, unknown>;
  let found = global[watchesKey] as Map<string, Watch> | undefined;
  if (!found) {
    found = new Map();
    global[watchesKey] = found;
    (global as Record<symbol, unknown>)[Symbol.for(announceKey)] = (
      id: string,
      namespace: Record<string, unknown>,
      url: string,
    ) => found?.get(id)?.options.onModule(namespace, url);
  }
  return found;
}

function stripQuery(location: string): string {
  return location.replace(/[?#].*$/, '');
}

/** The statement appended to a watched ES module: hands its namespace over when evaluated. */
export function moduleAnnouncement(id: string, url: string): string {
  return `\n;import * as __ardenModule from ${JSON.stringify(url)};\n(globalThis[Symbol.for(${JSON.stringify(announceKey)})] ?? (() => {}))(${JSON.stringify(id)}, __ardenModule, import.meta.url);\n`;
}

// The off-thread loader of `module.register` (Node < 22.15): the same transform, for one watch.
function asyncHooksSource(id: string, pattern: RegExp): string {
  return `
const pattern = new RegExp(${JSON.stringify(pattern.source)}, ${JSON.stringify(pattern.flags.replace(/[gy]/g, ''))});
const announcement = (url) => '\\n;import * as __ardenModule from ' + JSON.stringify(url) +
  ';\\n(globalThis[Symbol.for(${JSON.stringify(announceKey)})] ?? (() => {}))(' + ${JSON.stringify(JSON.stringify(id))} + ', __ardenModule, import.meta.url);\\n';
export async function load(url, context, next) {
  const result = await next(url, context);
  if (result.format !== 'module' || !pattern.test(url.replace(/[?#].*$/, ''))) return result;
  const source = typeof result.source === 'string' ? result.source : new TextDecoder().decode(result.source);
  return { ...result, source: source + announcement(url) };
}`;
}

function nodeModuleApi(): NodeModuleApi | undefined {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
    .process;
  try {
    return process?.getBuiltinModule?.('node:module') as NodeModuleApi | undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a watch (once per `id` and process; a later call replaces its options) and hands every
 * matching module already loaded to `onModule`. Returns what could not be watched.
 */
export function watchModules(options: ModuleWatchOptions): ModuleWatchGaps {
  const all = watches();
  const existing = all.get(options.id);
  if (existing) {
    existing.options = options;
    if (options.findLoaded !== false) findLoaded(existing);
    return existing.gaps;
  }
  const watch: Watch = { options, gaps: { commonjs: true, esm: true } };
  all.set(options.id, watch);
  const api = nodeModuleApi();
  if (api) {
    watch.gaps.commonjs = !watchCommonJs(api, watch);
    watch.gaps.esm = !watchEsm(api, watch);
  }
  if (options.findLoaded !== false) findLoaded(watch);
  return watch.gaps;
}

function matches(watch: Watch, location: string): boolean {
  watch.options.pattern.lastIndex = 0;
  return watch.options.pattern.test(stripQuery(location));
}

function watchCommonJs(api: NodeModuleApi, watch: Watch): boolean {
  const extensions = api._extensions;
  if (!extensions) return false;
  if (typeof extensions['.js'] !== 'function') return false;
  // Node loads `.cjs` (and any extension it has no handler for) with the `.js` handler.
  for (const extension of ['.js', '.cjs']) {
    const original = extensions[extension];
    if (typeof original !== 'function') continue;
    extensions[extension] = function loadAndAnnounce(module, filename) {
      original.call(this, module, filename);
      if (matches(watch, filename) && typeof module.exports === 'object' && module.exports) {
        watch.options.onModule(module.exports as Record<string, unknown>, filename);
      }
    };
  }
  return true;
}

function watchEsm(api: NodeModuleApi, watch: Watch): boolean {
  const { id } = watch.options;
  if (typeof api.registerHooks === 'function') {
    api.registerHooks({
      load(url, context, next) {
        const result = next(url, context);
        if (result.format !== 'module' || !matches(watch, url)) return result;
        const source =
          typeof result.source === 'string'
            ? result.source
            : new TextDecoder().decode(result.source as Uint8Array);
        return { ...result, source: source + moduleAnnouncement(id, url) };
      },
    });
    return true;
  }
  if (typeof api.register === 'function') {
    api.register(
      `data:text/javascript,${encodeURIComponent(asyncHooksSource(id, watch.options.pattern))}`,
    );
    return true;
  }
  return false;
}

/** The file of `subpath`'s build for `condition` in the copy whose package.json is `manifest`. */
function entryFile(
  require: NodeRequireLike,
  manifest: string,
  subpath: string,
  condition: 'import' | 'require',
): string | undefined {
  const exportsMap = (require(manifest) as { exports?: Record<string, unknown> }).exports;
  let entry = exportsMap?.[subpath] as unknown;
  while (entry && typeof entry === 'object') {
    const record = entry as Record<string, unknown>;
    entry = record[condition] ?? record.default;
  }
  if (typeof entry !== 'string') return undefined;
  return manifest.replace(/package\.json$/, entry.replace(/^\.\//, ''));
}

/**
 * Hands over the modules loaded before the watch started: CommonJS ones from `require.cache`,
 * ES module ones resolvable from the adapter, the working directory or the entry script.
 */
function findLoaded(watch: Watch): void {
  const api = nodeModuleApi();
  if (!api) return;
  const { options } = watch;
  for (const [file, module] of Object.entries(api._cache ?? {})) {
    if (matches(watch, file) && module?.loaded && typeof module.exports === 'object') {
      if (module.exports) options.onModule(module.exports as Record<string, unknown>, file);
    }
  }
  const process = (globalThis as { process?: { cwd?: () => string; argv?: string[] } }).process;
  const roots = [options.from, process?.cwd ? `${process.cwd()}/` : undefined, process?.argv?.[1]];
  const bases: (string | undefined)[] = [...roots];
  for (const root of roots) {
    for (const carrier of options.alsoFrom ?? []) {
      try {
        if (root) bases.push(api.createRequire(root).resolve(`${carrier}/package.json`));
      } catch {
        // Not installed there.
      }
    }
  }
  const seen = new Set<string>();
  for (const base of bases) {
    if (typeof base !== 'string') continue;
    try {
      const require = api.createRequire(base);
      const manifest = require.resolve(`${options.packageName}/package.json`);
      if (seen.has(manifest)) continue;
      seen.add(manifest);
      for (const subpath of options.subpaths) {
        const file = entryFile(require, manifest, subpath, 'import');
        if (file && matches(watch, file)) announceLoadedEsm(watch, require, file);
      }
    } catch {
      // No copy resolvable from there.
    }
  }
}

function announceLoadedEsm(watch: Watch, require: NodeRequireLike, file: string): void {
  try {
    // require(esm) returns the module the ESM loader already evaluated, or evaluates it now.
    watch.options.onModule(require(file), file);
  } catch {
    // This Node cannot require ES modules (< 20.19): a copy loaded later is announced by the load
    // hook; one loaded before is handed over as soon as import() answers.
    import(/* @vite-ignore */ `file://${file}`).then(
      (namespace: Record<string, unknown>) => watch.options.onModule(namespace, file),
      () => {},
    );
  }
}

/**
 * Loads `subpath` (for example `'./messages'`) of the copy of `packageName` that `location` (a
 * module file or URL in it) belongs to, in the same module format.
 */
export async function loadFromPackageCopy(
  location: string,
  packageName: string,
  subpath: string,
): Promise<Record<string, unknown>> {
  const api = nodeModuleApi();
  const file = location.startsWith('file:')
    ? decodeURIComponent(new URL(location).pathname)
    : location;
  const marker = `/${packageName}/`;
  const at = file.replaceAll('\\', '/').lastIndexOf(marker);
  if (!api || at < 0) throw new Error(`Cannot locate the ${packageName} copy of ${location}.`);
  const manifest = `${file.slice(0, at + marker.length)}package.json`;
  const require = api.createRequire(manifest);
  const format = moduleFormat(file, require(manifest) as { type?: string });
  const entry = entryFile(require, manifest, subpath, format);
  if (!entry) throw new Error(`${packageName} at ${manifest} has no ${subpath} export.`);
  if (format === 'require') return require(entry);
  return import(/* @vite-ignore */ `file://${entry}`);
}

// As Node decides: `.cjs` is CommonJS, `.mjs` an ES module, `.js` what the package's type says.
function moduleFormat(file: string, manifest: { type?: string }): 'import' | 'require' {
  if (file.endsWith('.cjs')) return 'require';
  if (file.endsWith('.mjs')) return 'import';
  return manifest.type === 'module' ? 'import' : 'require';
}
