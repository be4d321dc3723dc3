import { parseArgs } from 'node:util';
import { withoutFinalStop } from '../text';
import { UsageError } from './io';

/** How an option is parsed. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

/** Parsed options and positional arguments. */
export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parses `argv` strictly: an unknown option or a missing value is a `UsageError` that names it
 * and points at `--help`.
 */
export function parse(
  argv: string[],
  options: Record<string, OptionSpec>,
  command: string,
): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed['values'], positionals };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new UsageError(`${withoutFinalStop(message ?? '')}. See \`arden ${command} --help\`.`);
  }
}

/** A string option's value, or undefined. */
export function text(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A required string option. */
export function required(parsed: Parsed, name: string, command: string): string {
  const value = text(parsed, name);
  if (value === undefined || value === '') {
    throw new UsageError(`arden ${command} needs --${name}. See \`arden ${command} --help\`.`);
  }
  return value;
}

/** A positional argument that must be there. */
export function positional(parsed: Parsed, index: number, what: string, command: string): string {
  const value = parsed.positionals[index];
  if (value === undefined || value === '') {
    throw new UsageError(`arden ${command} needs ${what}. See \`arden ${command} --help\`.`);
  }
  return value;
}

/** `test` or `live` from `--env`, with a default. */
export function environmentOption(parsed: Parsed, fallback: 'test' | 'live'): 'test' | 'live' {
  const value = text(parsed, 'env') ?? fallback;
  if (value !== 'test' && value !== 'live') {
    throw new UsageError(`--env must be test or live; got "${value}".`);
  }
  return value;
}
