import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

// A real SMTP server in the test process (smtp-server) for the email channel suites, and the
// links of the mails it received.

/** A mail as the SMTP server received it. */
export interface Mail {
  from: string;
  to: string[];
  user: string | undefined;
  raw: string;
}

/** A real SMTP server on 127.0.0.1 with a login (arden / smtp-password-1), keeping what it gets. */
export async function startSmtp(): Promise<{
  port: number;
  mails: Mail[];
  close(): Promise<void>;
}> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'arden' && auth.password === 'smtp-password-1') {
        callback(null, { user: auth.username });
      } else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((to) => to.address),
          user: session.user as string | undefined,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The mail's text, its quoted-printable soft breaks and escapes decoded. */
export function decoded(mail: Mail): string {
  return mail.raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** The distinct confirmation links of a message, in order. */
export function linksOf(mail: Mail): string[] {
  const found = decoded(mail).match(
    /http:\/\/[^\s"<]+\/channels\/email\/confirm\?token=[A-Za-z0-9_-]+/g,
  );
  return [...new Set(found ?? [])];
}

/** The confirmation link of a message about one call. */
export function linkOf(mail: Mail): string {
  const [link] = linksOf(mail);
  if (!link) throw new Error(`no link in ${mail.raw}`);
  return link;
}

/** POSTs the confirmation page's form of `link` (what its Approve / Deny button sends). */
export function confirmLink(
  serverUrl: string,
  link: string,
  decision: 'approve' | 'deny',
  token = new URL(link).searchParams.get('token') ?? '',
): Promise<Response> {
  return fetch(`${serverUrl}/channels/email/confirm`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, decision }).toString(),
  });
}
