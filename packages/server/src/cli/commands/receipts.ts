import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type ReceiptCall,
  type ReceiptClaims,
  type ReceiptPublicKey,
  verifyReceipt,
} from '@arden/core';
import { verifyAudit } from '../../audit/verify';
import { parse, positional, text } from '../args';
import { CliError, type CliIo, exitCodes, UsageError } from '../io';
import { openCommandStore, storeOptions } from './local';

const receiptsHelp = `Usage:
  arden receipts verify RECEIPT|@FILE --keys FILE|URL [--tool NAME] [--kwargs JSON|@FILE]
                        [--args JSON|@FILE] [--action ID] [--require-runs]
                        [--min-approvers N] [--json]

Verifies a receipt (from a check's answer, /status, a webhook or the export; the batched
r2~… form or an older compact JWS) offline: its Ed25519 signature, and the inclusion path of
its claims to the signed root, against the server's keys (a saved copy of
/.well-known/arden-keys.json, or its URL), and — with --tool and --kwargs/--args — that it was
issued for exactly that call (the JSON text, byte for byte). For an approval with edit, the call
is the edited one (the receipt names the original's hashes under "edited"). --min-approvers N
refuses an approval by fewer than N distinct people. Exit code 0 when valid, 1 when not.
`;

const auditHelp = `Usage:
  arden audit verify [--data-dir DIR | --db URL] [--keys FILE] [--checkpoints FILE] [--json]

Walks every audit chain in the database (opened directly, like \`arden migrate\`) from its
latest signed retention anchor: each entry must follow from the one before, each receipt must
verify and match its action as stored, each chain must end at its head, and a retention anchor
must be one the server signed (an anchor moved by hand is reported). --checkpoints checks the
chains against checkpoints and anchors exported earlier (the answer of GET
/api/v1/audit/checkpoints, or one JWS per line), which catches a chain rewritten with its hashes
recomputed, or its front deleted. --keys takes the public keys from a file rather than
from the database being verified. Exit code 0 when everything verifies, 1 otherwise.
`;

function readArgument(value: string, io: CliIo): string {
  if (!value.startsWith('@')) return value;
  try {
    return readFileSync(resolve(io.cwd, value.slice(1)), 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read ${value.slice(1)}: ${(error as Error).message}.`);
  }
}

async function loadKeys(source: string, io: CliIo): Promise<ReceiptPublicKey[]> {
  let text: string;
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source).catch((error) => {
      throw new CliError(
        `Cannot fetch ${source}: ${(error as Error).message}.`,
        exitCodes.unreachable,
      );
    });
    text = await response.text();
  } else {
    text = readArgument(`@${source}`, io);
  }
  try {
    const parsed = JSON.parse(text);
    const keys = Array.isArray(parsed) ? parsed : parsed?.keys;
    if (!Array.isArray(keys)) throw new Error('no keys');
    return keys as ReceiptPublicKey[];
  } catch {
    throw new UsageError(
      `${source} is not a key set: expected the JSON of /.well-known/arden-keys.json ({"keys": [...]}).`,
    );
  }
}

/** `arden receipts …` */
export async function receiptsCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(
    argv,
    {
      keys: { type: 'string' },
      tool: { type: 'string' },
      kwargs: { type: 'string' },
      args: { type: 'string' },
      action: { type: 'string' },
      'require-runs': { type: 'boolean' },
      'min-approvers': { type: 'string' },
      json: { type: 'boolean' },
    },
    'receipts',
  );
  const sub = parsed.positionals[0];
  if (parsed.values.help || sub !== 'verify') {
    io.stdout(receiptsHelp);
    return parsed.values.help ? exitCodes.ok : exitCodes.usage;
  }
  const receipt = readArgument(positional(parsed, 1, 'RECEIPT', 'receipts verify'), io).trim();
  const keysSource = text(parsed, 'keys');
  if (!keysSource) {
    throw new UsageError(
      "receipts verify needs --keys: a saved copy of the server's /.well-known/arden-keys.json (or its URL).",
    );
  }
  const keys = await loadKeys(keysSource, io);
  const tool = text(parsed, 'tool');
  const kwargs = text(parsed, 'kwargs');
  const args = text(parsed, 'args');
  let call: ReceiptCall | undefined;
  if (tool !== undefined) {
    call = {
      toolName: tool,
      kwargsJson: kwargs === undefined ? '{}' : readArgument(kwargs, io).replace(/\n$/, ''),
      argsJson: args === undefined ? '[]' : readArgument(args, io).replace(/\n$/, ''),
      ...(text(parsed, 'action') ? { actionId: text(parsed, 'action') } : {}),
    };
  } else if (kwargs !== undefined || args !== undefined) {
    throw new UsageError(
      '--kwargs and --args need --tool: the call is its tool and its arguments.',
    );
  }
  const minApproversText = text(parsed, 'min-approvers');
  const minApprovers = minApproversText === undefined ? undefined : Number(minApproversText);
  if (minApprovers !== undefined && !(Number.isInteger(minApprovers) && minApprovers >= 1)) {
    throw new UsageError('--min-approvers must be a whole number of at least 1, such as 2.');
  }
  try {
    const claims = await verifyReceipt(receipt, call, keys, {
      requireRuns: parsed.values['require-runs'] === true,
      ...(minApprovers !== undefined ? { minApprovers } : {}),
    });
    if (parsed.values.json) {
      io.stdout(`${JSON.stringify({ valid: true, claims }, null, 2)}\n`);
    } else {
      io.stdout(
        `valid: ${claims.decision} of ${claims.tool} (action ${claims.action_id}, agent ${claims.agent_id}, ${claims.environment}) by ${claims.decided_by.type}${claims.decided_by.id ? ` ${claims.decided_by.id}` : ''} at ${new Date(claims.decided_at).toISOString()}${call ? '; it covers this exact call' : ''}\n${describeClaims(claims)}`,
      );
    }
    return exitCodes.ok;
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'invalid';
    if (parsed.values.json) {
      io.stdout(`${JSON.stringify({ valid: false, code, message: (error as Error).message })}\n`);
    } else {
      io.stderr(`invalid (${code}): ${(error as Error).message}\n`);
    }
    return exitCodes.failure;
  }
}

// The lines for the claims of approvals with edit, in-app and multi-person approvals.
function describeClaims(claims: ReceiptClaims): string {
  const lines: string[] = [];
  if (claims.approved_in) {
    lines.push(
      `approved in: ${claims.approved_in === 'app' ? 'the app (an in-app decision)' : 'Arden'}`,
    );
  }
  if (claims.approvers) lines.push(`approvers: ${claims.approvers.join(', ')}`);
  if (claims.edited) {
    lines.push(
      `edited by ${claims.edited.by ?? 'an approver'}: the receipt binds the edited arguments; the original call's kwargs_sha256 was ${claims.edited.original_kwargs_sha256}`,
    );
  }
  if (claims.redacted) lines.push(`sensitive arguments: ${claims.redacted.join(', ')}`);
  return lines.map((line) => `  ${line}\n`).join('');
}

function readCheckpoints(source: string, io: CliIo): string[] {
  const content = readArgument(`@${source}`, io).trim();
  try {
    const parsed = JSON.parse(content);
    const items = Array.isArray(parsed) ? parsed : parsed?.items;
    if (Array.isArray(items)) {
      return items.map((item) => (typeof item === 'string' ? item : String(item?.checkpoint)));
    }
  } catch {
    // One JWS per line.
  }
  return content.split(/\s+/).filter((line) => line.length > 0);
}

/** `arden audit …` */
export async function auditCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parse(
    argv,
    { ...storeOptions, keys: { type: 'string' }, checkpoints: { type: 'string' } },
    'audit',
  );
  const sub = parsed.positionals[0];
  if (parsed.values.help || sub !== 'verify') {
    io.stdout(auditHelp);
    return parsed.values.help ? exitCodes.ok : exitCodes.usage;
  }
  const keysSource = text(parsed, 'keys');
  const checkpointsSource = text(parsed, 'checkpoints');
  const checkpoints = checkpointsSource ? readCheckpoints(checkpointsSource, io) : undefined;
  const keys = keysSource ? await loadKeys(keysSource, io) : undefined;
  const store = await openCommandStore(parsed, io);
  try {
    const { publicJwk } = await import('../../receipts/keys');
    const report = await verifyAudit(store, {
      keys: keys ?? (await store.receipts.keys()).map(publicJwk),
      checkpoints,
    });
    if (parsed.values.json) {
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      io.stdout(
        `${report.ok ? 'ok' : 'FAILED'}: ${report.chains} chain(s), ${report.entries} entries, ${report.checkpoints} checkpoint(s) checked${keys ? '' : ' (keys read from the database itself; pass --keys to use a copy kept elsewhere)'}\n`,
      );
      for (const problem of report.problems) {
        io.stdout(
          `  ${problem.kind} agent ${problem.agentId} ${problem.environment}${problem.position !== null ? ` entry ${problem.position}` : ''}: ${problem.message}\n`,
        );
      }
    }
    return report.ok ? exitCodes.ok : exitCodes.failure;
  } finally {
    await store.close();
  }
}
