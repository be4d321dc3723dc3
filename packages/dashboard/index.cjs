const path = require('node:path');

/** The folder of the dashboard's built static files (`index.html`, `assets/`), for a server to serve at `/`. */
exports.dashboardDir = path.join(__dirname, 'dist');
