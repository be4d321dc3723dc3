import type { Options } from 'tsup';

/** Options of `libraryConfig()`. */
export interface LibraryOptions {
  /** The entry points, by output name. Default: `{ index: 'src/index.ts' }`. */
  entry?: Record<string, string>;
  /** Define `__ARDEN_MODULE_FORMAT__` (`'esm'` or `'cjs'`) in each build. Default false. */
  moduleFormat?: boolean;
}

/** The tsup options of an Arden library package (see index.js). */
export function libraryConfig(options?: LibraryOptions): Options;
