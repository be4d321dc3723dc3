/**
 * Finds every copy of `@langchain/core` a process loads — its ESM and CJS builds, nested or
 * duplicate installs, loaded before or after Arden — and hands the modules Arden patches
 * (`dist/tools/index` and `dist/language_models/chat_models`) to `onModule` as soon as each one
 * is evaluated, before the code that loaded it gets its exports. So no tool call can run on a copy
 * Arden has not patched: there is no window between loading a copy and patching it.
 *
 * - CommonJS builds (and ES modules loaded with `require`): `Module._extensions` is wrapped, and
 *   `require.cache` is read for those loaded before.
 * - ES module builds: a load hook appends one statement to the two modules, which hands the
 *   module's namespace to `onModule` when it is evaluated — `module.registerHooks` (in-thread,
 *   Node ≥ 22.15) or `module.register` (Node ≥ 20.6). Those loaded before are found from the
 *   adapter's, the working directory's and the entry script's resolution and read with
 *   `require(esm)` (Node ≥ 20.19), which returns the already evaluated module.
 *
 * Where a mechanism is missing, `watchCopies` says so (the caller warns): tools of an unseen
 * copy would run unchecked.
 */

/** Which of the two patched modules of a copy. */
export type CopyModuleKind = 'tools' | 'chat_models';

/** Called with each evaluated module of a copy; may be called more than once for one module. */
export type CopyModuleListener = (
  kind: CopyModuleKind,
  exports: Record<string, unknown>,
  location: string,
) => void;

interface NodeModuleApi {
  createRequire(from: string): NodeRequireLike;
  registerHooks?: (hooks: { load: SyncLoadHook }) => unknown;
  register?: (specifier: string) => void;
  _extensions?: Record<string, (module: { exports: unknown }, filename: string) => void>;
  _cache?: Record<string, { exports: unknown; loaded?: boolean } | undefined>;
}

interface NodeRequireLike {
  (id: string): any;
  resolve(id: string, options?: { paths?: string[] }): string;
}

type LoadResult = { format?: string; source?: unknown };
type SyncLoadHook = (
  url: string,
  context: unknown,
  next: (url: string, context: unknown) => LoadResult,
) => LoadResult;

const modulePattern =
  /[\\/]@langchain[\\/]core[\\/]dist[\\/](tools[\\/]index|language_models[\\/]chat_models)\.c?js$/;
const announceKey = 'arden.langchain.loaded';

/** The kind of a module file or URL of `@langchain/core` that Arden patches, if it is one. */
export function copyModuleKind(location: string): CopyModuleKind | undefined {
  const match = modulePattern.exec(location.replace(/[?#].*$/, ''));
  if (!match) return undefined;
  return match[1]?.startsWith('tools') ? 'tools' : 'chat_models';
}

/** The statement appended to an ES module of a copy: hands its namespace over when evaluated. */
export function announcement(url: string): string {
  return `\n;import * as __ardenModule from ${JSON.stringify(url)};\n(globalThis[Symbol.for("${announceKey}")] ?? (() => {}))(__ardenModule, import.meta.url);\n`;
}

// The off-thread loader of `module.register` (Node < 22.15): the same transform as the in-thread one.
const asyncHooksSource = `
const pattern = ${modulePattern.toString()};
const announcement = (url) => '\\n;import * as __ardenModule from ' + JSON.stringify(url) +
  ';\\n(globalThis[Symbol.for("${announceKey}")] ?? (() => {}))(__ardenModule, import.meta.url);\\n';
export async function load(url, context, next) {
  const result = await next(url, context);
  if (result.format !== 'module' || !pattern.test(url.replace(/[?#].*$/, ''))) return result;
  const source = typeof result.source === 'string' ? result.source : new TextDecoder().decode(result.source);
  return { ...result, source: source + announcement(url) };
}`;

function nodeModuleApi(): NodeModuleApi | undefined {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
    .process;
  try {
    return process?.getBuiltinModule?.('node:module') as NodeModuleApi | undefined;
  } catch {
    return undefined;
  }
}

/** What `watchCopies` could not set up: tools of such copies cannot be intercepted. */
export interface WatchGaps {
  /** CommonJS copies loaded later cannot be seen (not Node). */
  commonjs: boolean;
  /** ES module copies loaded later cannot be seen (no module hooks on this runtime). */
  esm: boolean;
}

interface WatchState {
  listener: CopyModuleListener;
  gaps: WatchGaps;
}

const watchKey = Symbol.for('arden.langchain.copies');

/**
 * Starts watching for copies of `@langchain/core` (once per process: later calls replace the
 * listener) and hands every copy already loaded to `listener`. Returns what could not be watched.
 */
export function watchCopies(listener: CopyModuleListener, from: string): WatchGaps {
  const global = globalThis as Record<symbol | string, unknown>;
  const existing = global[watchKey] as WatchState | undefined;
  if (existing) {
    existing.listener = listener;
    findLoadedCopies(from);
    return existing.gaps;
  }
  const state: WatchState = { listener, gaps: { commonjs: true, esm: true } };
  global[watchKey] = state;
  const notify: CopyModuleListener = (kind, exports, location) =>
    state.listener(kind, exports, location);
  global[Symbol.for(announceKey)] = (namespace: Record<string, unknown>, url: string) => {
    const kind = copyModuleKind(url);
    if (kind) notify(kind, namespace, url);
  };
  const api = nodeModuleApi();
  if (api) {
    state.gaps.commonjs = !watchCommonJs(api, notify);
    state.gaps.esm = !watchEsm(api);
  }
  findLoadedCopies(from);
  return state.gaps;
}

function watchCommonJs(api: NodeModuleApi, notify: CopyModuleListener): boolean {
  const extensions = api._extensions;
  if (!extensions) return false;
  for (const extension of ['.js', '.cjs']) {
    const original = extensions[extension];
    if (typeof original !== 'function') return false;
    extensions[extension] = function loadAndAnnounce(module, filename) {
      original.call(this, module, filename);
      const kind = copyModuleKind(filename);
      if (kind && typeof module.exports === 'object' && module.exports !== null) {
        notify(kind, module.exports as Record<string, unknown>, filename);
      }
    };
  }
  return true;
}

function watchEsm(api: NodeModuleApi): boolean {
  if (typeof api.registerHooks === 'function') {
    api.registerHooks({
      load(url, context, next) {
        const result = next(url, context);
        if (result.format !== 'module' || !copyModuleKind(url)) return result;
        const source =
          typeof result.source === 'string'
            ? result.source
            : new TextDecoder().decode(result.source as Uint8Array);
        return { ...result, source: source + announcement(url) };
      },
    });
    return true;
  }
  if (typeof api.register === 'function') {
    api.register(`data:text/javascript,${encodeURIComponent(asyncHooksSource)}`);
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
 * Hands over the copies loaded before the watch started: CommonJS ones from `require.cache`, ES
 * module ones resolvable from `from` (the adapter), the working directory or the entry script.
 */
function findLoadedCopies(from: string): void {
  const api = nodeModuleApi();
  const state = (globalThis as Record<symbol, unknown>)[watchKey] as WatchState | undefined;
  if (!api || !state) return;
  for (const [file, module] of Object.entries(api._cache ?? {})) {
    const kind = copyModuleKind(file);
    if (kind && module?.loaded && typeof module.exports === 'object' && module.exports) {
      state.listener(kind, module.exports as Record<string, unknown>, file);
    }
  }
  const process = (globalThis as { process?: { cwd?: () => string; argv?: string[] } }).process;
  const bases = [from, `${process?.cwd?.()}/`, process?.argv?.[1]].filter(
    (base): base is string => typeof base === 'string' && !base.startsWith('undefined'),
  );
  const seen = new Set<string>();
  for (const base of bases) {
    try {
      const require = api.createRequire(base);
      const manifest = require.resolve('@langchain/core/package.json');
      if (seen.has(manifest)) continue;
      seen.add(manifest);
      for (const [subpath, kind] of [
        ['./tools', 'tools'],
        ['./language_models/chat_models', 'chat_models'],
      ] as const) {
        const file = entryFile(require, manifest, subpath, 'import');
        if (file) announceEsm(require, kind, file);
      }
    } catch {
      // No copy resolvable from there.
    }
  }
}

function announceEsm(require: NodeRequireLike, kind: CopyModuleKind, file: string): void {
  const state = (globalThis as Record<symbol, unknown>)[watchKey] as WatchState;
  try {
    // require(esm) returns the module the ESM loader already evaluated, or evaluates it now.
    state.listener(kind, require(file), file);
  } catch {
    // This Node cannot require ES modules (< 20.19): a copy loaded later is announced by the load
    // hook; one loaded before is patched as soon as import() answers.
    import(/* @vite-ignore */ `file://${file}`).then(
      (namespace: Record<string, unknown>) => state.listener(kind, namespace, file),
      () => {},
    );
  }
}

/**
 * Loads `subpath` (for example `'./messages'`) of the copy that `location` (a module file or URL
 * of it) belongs to, in the same module format.
 */
export async function loadFromCopy(
  location: string,
  subpath: string,
): Promise<Record<string, unknown>> {
  const api = nodeModuleApi();
  const file = location.startsWith('file:')
    ? decodeURIComponent(new URL(location).pathname)
    : location;
  const root = /^(.*[\\/]@langchain[\\/]core[\\/])/.exec(file)?.[1];
  if (!api || !root) throw new Error(`Cannot locate the @langchain/core copy of ${location}.`);
  const manifest = `${root}package.json`;
  const require = api.createRequire(manifest);
  const format = file.endsWith('.cjs') ? 'require' : 'import';
  const entry = entryFile(require, manifest, subpath, format);
  if (!entry) throw new Error(`@langchain/core at ${root} has no ${subpath} export.`);
  if (format === 'require') return require(entry);
  return import(/* @vite-ignore */ `file://${entry}`);
}
