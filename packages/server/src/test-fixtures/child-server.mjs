// A server in a child process, for crash tests: `node child-server.mjs DATA_DIR [CONFIG_JSON]`
// (CONFIG_JSON: more of `createServer()`'s options, e.g. `databaseUrl` and `channels`). Prints
// one JSON line with its URL once it listens. Uses the built package (run `pnpm build` first).
import { createServer } from '../../dist/index.js';

const dataDir = process.argv[2];
const config = process.argv[3] ? JSON.parse(process.argv[3]) : {};
const server = await createServer({ dataDir, port: 0, logLevel: 'silent', ...config });
const url = await server.listen(0);
process.stdout.write(`${JSON.stringify({ url })}\n`);
