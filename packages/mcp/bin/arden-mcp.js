#!/usr/bin/env node
// The `arden-mcp` command. This file is committed (the code is in dist/, built by `pnpm build`)
// so that `pnpm install` in a fresh checkout can link the bin before anything is built.
import('../dist/bin.js').catch((error) => {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('bin.js')) {
    process.stderr.write(
      'error: arden-mcp is not built yet (dist/bin.js is missing). Run `pnpm build` (or `bash scripts/setup.sh`) in the repository, then run the command again.\n',
    );
    process.exitCode = 1;
    return;
  }
  throw error;
});
