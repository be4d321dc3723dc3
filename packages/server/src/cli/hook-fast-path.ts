import { hookCommand } from './commands/hook';
import { CliError, type CliIo, exitCodes } from './io';

/**
 * `arden hook claude-code …` without loading the rest of the CLI: the same command and error
 * handling as `run()` in ./main, for the one command that starts on every tool call.
 */
export async function runHook(argv: string[], io: CliIo): Promise<number> {
  try {
    return await hookCommand(argv, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(`error: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(
      `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return exitCodes.failure;
  }
}
