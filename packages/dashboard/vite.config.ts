import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dashboard is served by the Arden server at `/`, on the same origin as the admin API.
// Relative asset URLs keep the build working behind a reverse proxy under a sub-path too.
export default defineConfig({
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // `pnpm dev` against a local `arden start` (add http://localhost:5173 to
    // ARDEN_TRUSTED_ORIGINS so the server accepts the dev server's changes).
    proxy: { '/api': { target: 'http://127.0.0.1:8787', changeOrigin: false } },
  },
});
