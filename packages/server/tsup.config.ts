import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
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
