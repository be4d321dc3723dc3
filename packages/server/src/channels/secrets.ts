import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Channel secrets (a Slack bot token and signing secret, an SMTP password, a webhook signing
// key) are stored encrypted: AES-256-GCM under the server's secrets key, with a random 96-bit
// nonce per value; the stored text is `v1.<nonce>.<tag>.<ciphertext>` in base64url. The key is
// `secretsKey` / ARDEN_SECRETS_KEY (any string of 32+ characters, hashed to 256 bits), else a
// random key kept in `<dataDir>/secrets.key` (mode 0600), made on first use. Replicas sharing a
// PostgreSQL database must share the key (set ARDEN_SECRETS_KEY on each).

/** Encrypts and decrypts channel secrets. */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: string) {
    if (key.length < 32) {
      throw new Error(
        'The secrets key (ARDEN_SECRETS_KEY) must be at least 32 characters; generate one with `openssl rand -base64 32`.',
      );
    }
    this.key = createHash('sha256').update(key).digest();
  }

  /** The key from `secretsKey`, ARDEN_SECRETS_KEY, or the key file of `dataDir`. */
  static open(options: { secretsKey?: string; dataDir: string }): SecretBox {
    const configured = options.secretsKey ?? process.env.ARDEN_SECRETS_KEY;
    if (configured) return new SecretBox(configured);
    const file = join(options.dataDir, 'secrets.key');
    if (!existsSync(file)) {
      mkdirSync(options.dataDir, { recursive: true });
      writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, {
        mode: 0o600,
        flag: 'wx',
      });
      chmodSync(file, 0o600);
    }
    return new SecretBox(readFileSync(file, 'utf8').trim());
  }

  /** A key for `label` derived from the secrets key (HMAC keys of links, for one). */
  derive(label: string): Buffer {
    return createHash('sha256').update(this.key).update(`\0${label}`).digest();
  }

  seal(secrets: Record<string, string>): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    const body = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
    return ['v1', nonce, cipher.getAuthTag(), body]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  open(sealed: string): Record<string, string> {
    const [version, nonce, tag, body] = sealed.split('.');
    if (version !== 'v1' || !nonce || !tag || body === undefined) {
      throw new Error('A channel secret is not in a format this server knows.');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(nonce, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const text = Buffer.concat([
        decipher.update(Buffer.from(body, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
      return JSON.parse(text) as Record<string, string>;
    } catch {
      throw new Error(
        "A channel's secrets cannot be decrypted with this server's secrets key (ARDEN_SECRETS_KEY or secrets.key differs from the one they were saved with); save the channel's secrets again.",
      );
    }
  }
}
