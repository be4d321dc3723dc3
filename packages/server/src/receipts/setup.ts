import { dirname, join } from 'node:path';
import type { ResolvedConfig } from '../context';
import { hideInLogs, type Logger } from '../logger';
import { type Store, sqlitePath } from '../store';
import { ReceiptKeyError, secretFromFile } from './keys';
import { ReceiptService } from './service';

/**
 * Opens the receipt service as the configuration says. The secret that encrypts the signing
 * keys comes from `receipts.secret` / `ARDEN_RECEIPT_SECRET`; without it:
 * - `mode: 'off'`: no receipts;
 * - `mode: 'required'`: refuses to start;
 * - a SQLite file store: a random secret in `receipt-secret` beside the database (mode 0600),
 *   made on first start with a warning (back it up with the database; set the variable in
 *   production);
 * - an in-memory SQLite store: a random secret for this process only;
 * - PostgreSQL: no receipts, with a warning at every start (replicas must share one secret, so
 *   none is made up).
 * The secret is never logged: it is registered with `hideInLogs`.
 */
export async function openReceipts(
  store: Store,
  config: Pick<ResolvedConfig, 'receipts' | 'dataDir' | 'databaseUrl'>,
  logger: Logger,
  clock: () => number,
): Promise<ReceiptService> {
  const { mode } = config.receipts;
  let secret = config.receipts.secret;
  if (mode === 'off') return ReceiptService.open(store, undefined, logger, clock);
  if (secret === undefined) {
    if (mode === 'required') {
      throw new ReceiptKeyError(
        'Receipts are required (ARDEN_RECEIPTS=required) but no receipt secret is set: set ARDEN_RECEIPT_SECRET (at least 16 characters, e.g. `openssl rand -base64 32`) to the same value on every replica.',
      );
    }
    if (store.database.dialect === 'postgres') {
      logger.warn(
        'Receipts are off: no receipt secret. Set ARDEN_RECEIPT_SECRET (the same on every replica) to sign every decision; see docs/security.md.',
      );
      return ReceiptService.open(store, undefined, logger, clock);
    }
    const path = sqlitePath(config);
    if (path === ':memory:') {
      secret = crypto.getRandomValues(new Uint8Array(32)).toString();
    } else {
      const file = join(dirname(path), 'receipt-secret');
      const made = secretFromFile(file);
      secret = made.secret;
      if (made.created) {
        logger.warn(
          'No receipt secret was set, so one was made to encrypt the receipt signing keys; keep it with the database, and set ARDEN_RECEIPT_SECRET in production (see docs/security.md).',
          { file },
        );
      }
    }
  }
  // Whatever logs it by mistake (an error quoting the configuration), it shows as [redacted].
  hideInLogs(secret);
  return ReceiptService.open(store, secret, logger, clock);
}
