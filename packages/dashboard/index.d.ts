/** The folder of the dashboard's built static files (`index.html`, `assets/`), for a server to serve at `/`. */
export declare const dashboardDir: string;
