import { libraryConfig } from '@arden/tsup-config';
import { defineConfig } from 'tsup';

export default defineConfig(libraryConfig());
