#!/usr/bin/env node
// The `arden` command. Everything lives in ./main so that tests can run commands in-process.
// `arden hook claude-code` (and `hook codex`) runs on every tool call of a coding agent: it loads only the hook
// (not the server, the store or the other commands), so that it starts fast.
import { processIo } from './io';

const argv = process.argv.slice(2);
const io = processIo();
const running =
  argv[0] === 'hook' && (argv[1] === 'claude-code' || argv[1] === 'codex')
    ? import('./hook-fast-path').then(({ runHook }) => runHook(argv.slice(1), io))
    : import('./main').then(({ run }) => run(argv, io));
running.then((code) => {
  process.exitCode = code;
  // A stopped server is done: the demo agent's background approval waits must not keep the
  // process alive for minutes.
  if (argv[0] === 'start') process.exit(code);
});
