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

/** One held call of a digest, with its own confirmation link. */
export interface DigestItem {
  action: ActionRecord;
  agentName: string;
  link: string;
  job: 'notify' | 'remind' | 'escalate';
}

/** A digest: the held calls still waiting, each with its own single-use link. */
export function digestEmail(items: readonly DigestItem[]): {
  subject: string;
  text: string;
  html: string;
} {
  const count = `${items.length} held ${items.length === 1 ? 'call' : 'calls'}`;
  const expiry = (action: ActionRecord) =>
    `${action.expiresAt ? new Date(action.expiresAt).toISOString() : 'never'} (then ${action.onTimeout ?? 'deny'})`;
  const text = [
    `Approval digest: ${count} waiting for a decision.`,
    '',
    ...items.flatMap(({ action, agentName, link, job }, index) => [
      `${index + 1}. ${job === 'notify' ? '' : `[${job === 'remind' ? 'reminder' : 'escalated'}] `}${action.toolName} (agent ${agentName}, ${action.environment})`,
      `   Arguments: ${action.argsJson}`,
      `   Keyword arguments: ${action.kwargsJson}`,
      `   Expires: ${expiry(action)}`,
      `   Review and approve or deny: ${link}`,
      '',
    ]),
    'Each link works once, for you only, until its call expires.',
  ].join('\n');
  const html = `<p><strong>Approval digest</strong>: ${count} waiting for a decision.</p>
<ol>
${items
  .map(
    ({
      action,
      agentName,
      link,
      job,
    }) => `<li>${job === 'notify' ? '' : `[${job === 'remind' ? 'reminder' : 'escalated'}] `}<code>${escapeHtml(action.toolName)}</code> (agent ${escapeHtml(agentName)}, ${action.environment}); expires ${expiry(action)}
<pre>args ${escapeHtml(action.argsJson)}
kwargs ${escapeHtml(action.kwargsJson)}</pre>
<p><a href="${escapeHtml(link)}">Review and approve or deny</a></p></li>`,
  )
  .join('\n')}
</ol>
<p>Each link works once, for you only, until its call expires.</p>`;
  return { subject: `Approval digest: ${count} waiting`, text, html };
}
