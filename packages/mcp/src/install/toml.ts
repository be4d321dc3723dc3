/**
 * Codex's `config.toml`: its `[mcp_servers.NAME]` tables are edited in place, line by line, so
 * that the rest of the file (comments, order, other settings) stays exactly as written. Only the
 * `command` and `args` keys of a server's table are replaced; the result is parsed again and must
 * hold exactly the intended values, or nothing is written.
 */
import { parse } from 'smol-toml';
import type { ServerEntry } from './wrap';

/** The `mcp_servers` table of a Codex configuration (`{}` when it has none). */
export function tomlServers(text: string): Record<string, ServerEntry> {
  const parsed = parse(text) as { mcp_servers?: Record<string, ServerEntry> };
  return parsed.mcp_servers ?? {};
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The net count of `[` over `]` in a line, outside strings and comments. */
function bracketBalance(line: string): number {
  let balance = 0;
  let quote: string | undefined;
  for (let index = 0; index < line.length; index++) {
    const character = line[index];
    if (quote) {
      if (character === '\\' && quote === '"') index++;
      else if (character === quote) quote = undefined;
      continue;
    }
    if (character === '"' || character === "'") quote = character;
    else if (character === '#') break;
    else if (character === '[') balance++;
    else if (character === ']') balance--;
  }
  return balance;
}

/**
 * `text` with the `command` and `args` of `[mcp_servers.<name>]` set to `command` and `args`.
 * Throws an Error when the server is not written as its own table (an inline table, say), or when
 * the edited file does not parse back to exactly those values: the caller then writes nothing.
 */
export function setTomlServerCommand(
  text: string,
  name: string,
  command: string,
  args: string[],
): string {
  const lines = text.split('\n');
  const quotedName = `(?:${escapeRegExp(name)}|"${escapeRegExp(name)}"|'${escapeRegExp(name)}')`;
  const header = new RegExp(`^\\s*\\[\\s*mcp_servers\\s*\\.\\s*${quotedName}\\s*\\]\\s*(#.*)?$`);
  const start = lines.findIndex((line) => header.test(line));
  if (start < 0) {
    throw new Error(
      `[mcp_servers.${name}] is not written as its own table in config.toml; put the gateway in front of it by hand (docs/integrations/mcp.md).`,
    );
  }
  let end = lines.length;
  for (let index = start + 1; index < lines.length; index++) {
    if (/^\s*\[/.test(lines[index] as string)) {
      end = index;
      break;
    }
  }
  const kept: string[] = [];
  for (let index = start + 1; index < end; index++) {
    const line = lines[index] as string;
    if (/^\s*(command|args)\s*=/.test(line)) {
      let balance = bracketBalance(line);
      while (balance > 0 && index + 1 < end) {
        index++;
        balance += bracketBalance(lines[index] as string);
      }
      continue;
    }
    kept.push(line);
  }
  const written = [
    `command = ${JSON.stringify(command)}`,
    `args = [${args.map((arg) => JSON.stringify(arg)).join(', ')}]`,
  ];
  const result = [...lines.slice(0, start + 1), ...written, ...kept, ...lines.slice(end)].join(
    '\n',
  );
  const check = tomlServers(result)[name];
  if (check?.command !== command || JSON.stringify(check?.args) !== JSON.stringify(args)) {
    throw new Error(
      `Could not rewrite [mcp_servers.${name}] in config.toml safely; nothing was written. Put the gateway in front of it by hand (docs/integrations/mcp.md).`,
    );
  }
  return result;
}
