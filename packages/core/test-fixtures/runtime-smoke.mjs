// Exercises the public API from the built package on whatever runtime runs this file.
// Prints one JSON line with what it observed. Usage: node runtime-smoke.mjs <esm|cjs>
import { createRequire } from 'node:module';

const format = process.argv[2] ?? 'esm';
const load = async (subpath) => {
  if (format === 'cjs') return createRequire(import.meta.url)(`../dist/${subpath}.cjs`);
  return import(`../dist/${subpath}.js`);
};
const core = await load('index');
const { createTestArden } = await load('test/index');

const server = createTestArden({
  decisions: { 'db.drop': 'block', 'stripe.refund': 'requires_approval' },
});
core.configure(server.options());
const lookup = core.guardTool('crm.lookup', async ({ id }) => `customer ${id}`);
const drop = core.guardTool('db.drop', async () => 'dropped');
const refund = core.guardTool('stripe.refund', async ({ amount }) => `refunded ${amount}`);

const allowed = await core.withSession('s-1', () => lookup({ id: 7 }));
const blocked = await drop({ table: 'users' }).catch((error) => ({
  denied: core.PolicyDeniedError.isInstance(error),
  reason: error.reason,
  // The adapter kit, as an adapter would word the denial for its model.
  message: core
    .defaultDenialMessage(
      core.denialOf(error, core.ardenToolName({ toolNamePrefix: 'x.' }, 'db.drop')),
    )
    .startsWith('Arden blocked this call to "x.db.drop" by policy'),
}));
const held = refund({ amount: 10 });
server.approve((await server.nextPending()).actionId, 'ok');
const approved = await held;
const signature = await core.signWebhookPayload('{}', 1, 'key');
const verified = await core.verifyWebhookSignature('{}', '1', signature, 'key', {
  now: () => 1000,
});
core.logTokenUsage({ model: 'gpt-4o', promptTokens: 1, completionTokens: 2 });
await core.flush();
console.log(
  JSON.stringify({
    node: process.versions.node,
    format,
    allowed,
    blocked,
    approved,
    verified,
    session: server.checks[0]?.sessionId,
    usage: server.usage.length,
  }),
);
