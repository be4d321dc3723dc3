#!/usr/bin/env node
// The `arden` command. Everything lives in ./main so that tests can run commands in-process.
import { processIo } from './io';
import { run } from './main';

const argv = process.argv.slice(2);
run(argv, processIo()).then((code) => {
  process.exitCode = code;
  // A stopped server is done: the demo agent's background approval waits must not keep the
  // process alive for minutes.
  if (argv[0] === 'start') process.exit(code);
});
