import type { PolicyDefinition } from '@arden/policy';

/**
 * A realistic policy set of `count` policies: exact tools with CEL rules on amounts, e-mail
 * domains and table names, some prefix patterns, and a catch-all.
 */
export function realisticPolicies(count: number): PolicyDefinition[] {
  const policies: PolicyDefinition[] = [];
  for (let index = 0; policies.length < count; index++) {
    const kind = index % 4;
    if (kind === 0) {
      policies.push({
        name: `refunds ${index}`,
        tool: `payments${index}.issue_refund`,
        rules: [
          { if: `args.amount <= ${50 + index}`, then: 'allow' },
          { if: 'args.amount > 10000', then: 'block' },
        ],
        default: 'requires_approval',
        timeout: 600,
      });
    } else if (kind === 1) {
      policies.push({
        name: `mail ${index}`,
        tool: `mail${index}.*`,
        rules: [{ if: 'args.to.endsWith("@example.com")', then: 'allow' }],
        default: 'requires_approval',
      });
    } else if (kind === 2) {
      policies.push({
        name: `database ${index}`,
        tool: `db${index}.delete_rows`,
        rules: [
          { if: 'args.table in ["users", "payments"]', then: 'block' },
          { if: 'has(args.limit) && args.limit <= 100', then: 'allow' },
        ],
        default: 'requires_approval',
      });
    } else {
      policies.push({ name: `read ${index}`, tool: `crm${index}.lookup`, action: 'allow' });
    }
  }
  if (count > 1)
    policies[policies.length - 1] = { name: 'everything else', tool: '*', action: 'allow' };
  return policies;
}

/** Calls that hit the set's policies in turn, with arguments their rules read. */
export function realisticCalls(policies: PolicyDefinition[], count: number) {
  return Array.from({ length: count }, (_, index) => {
    const policy = policies[index % policies.length] as PolicyDefinition;
    const tool = policy.tool.endsWith('.*')
      ? `${policy.tool.slice(0, -2)}.send`
      : policy.tool === '*'
        ? 'other.tool'
        : policy.tool;
    return {
      tool,
      args: {
        amount: (index * 37) % 200,
        to: index % 2 ? 'a@example.com' : 'b@corp.io',
        table: index % 3 ? 'orders' : 'users',
        limit: index % 150,
      },
      session: `s${index % 10}`,
      agent: { id: 'agent_1', name: 'bench' },
      environment: 'live' as const,
    };
  });
}
