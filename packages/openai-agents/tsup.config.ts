import { libraryConfig } from '@arden/tsup-config';
import { defineConfig } from 'tsup';

// moduleFormat: each build knows which module format it is, to find itself for the module watch.
export default defineConfig(libraryConfig({ moduleFormat: true }));
