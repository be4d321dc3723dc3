import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

export default defineConfig({
  // `cli` is the `arden` command (bin); its shebang line is kept. `testing` is the subpath
  // `@arden/server/testing`; `testing-child` is the script it starts when the server must run
  // on another Node.js (not exported: it is started by its path).
  entry: {
    index: 'src/index.ts',
    cli: 'src/cli/index.ts',
    testing: 'src/testing.ts',
    'testing-child': 'src/testing/child.ts',
  },
  define: { __ARDEN_VERSION__: JSON.stringify(version) },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node22',
  platform: 'node',
  treeshake: true,
  // Keep `node:sqlite` as written: it exists only under its `node:` name.
  removeNodeProtocol: false,
});
