import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  treeshake: true,
  // Tells each build which module format it is, so it knows where it is for the module watch.
  esbuildOptions(options, context) {
    options.define = { ...options.define, __ARDEN_MODULE_FORMAT__: JSON.stringify(context.format) };
  },
});
