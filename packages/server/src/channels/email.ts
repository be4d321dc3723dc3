import nodemailer from 'nodemailer';
import type { ActionRecord } from '../store';

// Email: one message per held call and recipient, with a link to a confirmation page (never a
// decision on a bare GET: mail scanners follow links). Sent with nodemailer over SMTP.

/** The SMTP settings of an email channel. */
export interface SmtpSettings {
  host: string;
  port: number;
  secure?: boolean;
  user?: string;
  from: string;
  require_tls?: boolean;
}

/** Sends one message; rejects with nodemailer's error (its `responseCode` when SMTP answered). */
export async function sendMail(
  settings: SmtpSettings,
  password: string | undefined,
  message: { to: string; subject: string; text: string; html: string },
  timeoutMs: number,
): Promise<void> {
  const transport = nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.secure === true,
    requireTLS: settings.require_tls === true,
    auth: settings.user ? { user: settings.user, pass: password ?? '' } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // Local test servers have self-signed certificates only when the operator says so.
    tls: { rejectUnauthorized: settings.require_tls === true },
    logger: false,
  });
  try {
    await transport.sendMail({ from: settings.from, ...message });
  } finally {
    transport.close();
  }
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** The email about a held call, with its confirmation link. */
export function approvalEmail(
  action: ActionRecord,
  agentName: string,
  link: string,
  job: 'notify' | 'remind' | 'escalate',
): { subject: string; text: string; html: string } {
  const lead =
    job === 'remind'
      ? 'Reminder: approval needed'
      : job === 'escalate'
        ? 'Escalated: approval needed'
        : 'Approval needed';
  const expires = action.expiresAt ? new Date(action.expiresAt).toISOString() : 'never';
  const policy = action.policy?.policy?.name ?? 'none (agent default)';
  const text = [
    `${lead}: ${action.toolName} (agent ${agentName}, ${action.environment})`,
    `Policy: ${policy}`,
    `Session: ${action.sessionId ?? '-'}`,
    `Arguments: ${action.argsJson}`,
    `Keyword arguments: ${action.kwargsJson}`,
    `Expires: ${expires} (then ${action.onTimeout ?? 'deny'})`,
    '',
    `Review and approve or deny: ${link}`,
    'The link works once, for you only, until the call expires.',
  ].join('\n');
  const html = `<p><strong>${escapeHtml(lead)}</strong>: <code>${escapeHtml(action.toolName)}</code> (agent ${escapeHtml(agentName)}, ${action.environment})</p>
<p>Policy: ${escapeHtml(policy)}<br>Session: ${escapeHtml(action.sessionId ?? '-')}<br>Expires: ${expires} (then ${action.onTimeout ?? 'deny'})</p>
<pre>args ${escapeHtml(action.argsJson)}
kwargs ${escapeHtml(action.kwargsJson)}</pre>
<p><a href="${escapeHtml(link)}">Review and approve or deny</a></p>
<p>The link works once, for you only, until the call expires.</p>`;
  return { subject: `${lead}: ${action.toolName} (${agentName})`, text, html };
}
