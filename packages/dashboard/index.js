import { fileURLToPath } from 'node:url';

/** The folder of the dashboard's built static files (`index.html`, `assets/`), for a server to serve at `/`. */
export const dashboardDir = fileURLToPath(new URL('./dist', import.meta.url));
