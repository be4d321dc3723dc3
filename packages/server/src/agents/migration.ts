import type { Dialect } from '../store/database';

// Migration 15 (agent owners; sensitive values in webhooks): the user who owns an agent (a
// policy's `exclude_owner` keeps them from approving its calls), and whether the agent's
// webhooks carry sensitive argument values (a policy's `redact`) in full — off by default.
export function agentOwnerSchema(dialect: Dialect): string[] {
  const ifMissing = dialect === 'postgres' ? 'IF NOT EXISTS ' : '';
  return [
    `ALTER TABLE agents ADD COLUMN ${ifMissing}owner_user_id TEXT`,
    `ALTER TABLE agents ADD COLUMN ${ifMissing}webhook_sensitive_in_full INTEGER NOT NULL DEFAULT 0`,
  ];
}
