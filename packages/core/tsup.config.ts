import { libraryConfig } from '@arden/tsup-config';
import { defineConfig } from 'tsup';

export default defineConfig(
  libraryConfig({ entry: { index: 'src/index.ts', 'test/index': 'src/test/index.ts' } }),
);
