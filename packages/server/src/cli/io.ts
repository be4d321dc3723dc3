/** Where a CLI command writes and what it reads from its environment. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Reads the whole of standard input (the hook commands read their event there). */
  readStdin?: () => Promise<string>;
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The terminal of this process. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    readStdin: readProcessStdin,
  };
}

/** Exit codes of `arden`. */
export const exitCodes = {
  ok: 0,
  /** The command failed: a server error, a refused request, a failing policy test. */
  failure: 1,
  /** The command line is wrong: an unknown command or option, a missing value. */
  usage: 2,
  /** A policy file does not parse or its policies do not compile. */
  invalidPolicy: 3,
  /** The server could not be reached. */
  unreachable: 4,
} as const;

/** A failure to report as one message (what happened and what to do) and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = exitCodes.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A usage mistake (exit code 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, exitCodes.usage);
    this.name = 'UsageError';
  }
}

/** Lays out rows as aligned columns. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return `${rows
    .map((row) =>
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}
