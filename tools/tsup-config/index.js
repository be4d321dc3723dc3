// The tsup preset of Arden's library packages: ESM and CommonJS builds with declarations and
// source maps, for any runtime (`platform: 'neutral'`), ES2022. Plain JavaScript so that tsup
// loads it as it is, on any Node the build runs on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The tsup options of a library package. `entry` names the entry points (default
 * `{ index: 'src/index.ts' }`); `moduleFormat` defines `__ARDEN_MODULE_FORMAT__` (`'esm'` or
 * `'cjs'`) in each build, for packages that need to know which build they are. Every build gets
 * `__ARDEN_VERSION__`, the package's version from the package.json of the directory tsup runs in.
 *
 * @param {import('./index').LibraryOptions} [options]
 * @returns {import('tsup').Options}
 */
export function libraryConfig(options = {}) {
  const { version } = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8'));
  return {
    entry: options.entry ?? { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
    platform: 'neutral',
    treeshake: true,
    define: { __ARDEN_VERSION__: JSON.stringify(version) },
    ...(options.moduleFormat
      ? {
          // Tells each build which module format it is (for example, to find itself on disk).
          esbuildOptions(esbuild, context) {
            esbuild.define = {
              ...esbuild.define,
              __ARDEN_MODULE_FORMAT__: JSON.stringify(context.format),
            };
          },
        }
      : {}),
  };
}
