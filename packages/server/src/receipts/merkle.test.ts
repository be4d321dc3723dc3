import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { decodeReceipt, type ReceiptPublicKey, verifyReceipt } from '@arden/core';
import { afterEach, describe, expect, test } from 'vitest';
import { createLogger } from '../logger';
import type { Statement } from '../store/database';
import { action, agent, closeStores, freshStore } from '../test-fixtures/store';
import { leafHash, merkleTree, signReceiptBatch } from './merkle';
import { checkReceiptInput, ReceiptService } from './service';

// Batched receipts: one signature per group commit, over the Merkle root of its receipts.

// RFC 8032 test 1's key, as in @arden/core's receipt vectors (its src/receipts.test.ts holds
// the same receipts and verifies them with Web Crypto).
const rfcKey = createPrivateKey({
  key: {
    kty: 'OKP',
    crv: 'Ed25519',
    x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
    d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
  },
  format: 'jwk',
});
const rfcPublicKey: ReceiptPublicKey = {
  kty: 'OKP',
  crv: 'Ed25519',
  kid: 'rfc8032-1',
  x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
};
const vectorClaims = {
  v: 1,
  jti: '019ae000-0000-7000-8000-000000000001',
  iat: 1764547200,
  decided_at: 1764547200000,
  action_id: '019ae000-0000-7000-8000-0000000000aa',
  agent_id: 'agent-1',
  environment: 'live',
  session_id: 's-1',
  tool: 'payments.refund',
  args_sha256: '4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945',
  kwargs_sha256: '166a9a9dfba98f4418a3109b879cf117e450ef5e10761dd038d22659959c1e03',
  decision: 'approve',
  runs: true,
  reason: 'rule_matched',
  policy: { id: 'p-1', name: 'Refunds', version: 3, rule_index: 0 },
  decided_by: { type: 'user', id: 'u-1' },
};
const otherClaims = [
  {
    v: 1,
    jti: '019ae000-0000-7000-8000-000000000002',
    iat: 1764547200,
    decided_at: 1764547200000,
    action_id: '019ae000-0000-7000-8000-0000000000ab',
    agent_id: 'agent-1',
    environment: 'live',
    session_id: 's-1',
    tool: 'payments.refund',
    args_sha256: '4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945',
    kwargs_sha256: 'a60beaf92841de07017418a6c3206e93f7d0179dd16785bec593cf44520d3c26',
    decision: 'allow',
    runs: true,
    reason: 'default_allow',
    policy: null,
    decided_by: { type: 'policy', id: null },
  },
  {
    v: 1,
    jti: '019ae000-0000-7000-8000-000000000003',
    iat: 1764547200,
    decided_at: 1764547200000,
    action_id: '019ae000-0000-7000-8000-0000000000ac',
    agent_id: 'agent-1',
    environment: 'live',
    session_id: 's-1',
    tool: 'payments.refund',
    args_sha256: '4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945',
    kwargs_sha256: 'a60beaf92841de07017418a6c3206e93f7d0179dd16785bec593cf44520d3c26',
    decision: 'block',
    runs: false,
    reason: 'default_allow',
    policy: null,
    decided_by: { type: 'policy', id: null },
  },
];
const issuedAt = 1764547200123;
const batchOfOne =
  'r2~eyJ2IjoxLCJqdGkiOiIwMTlhZTAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDEiLCJpYXQiOjE3NjQ1NDcyMDAsImRlY2lkZWRfYXQiOjE3NjQ1NDcyMDAwMDAsImFjdGlvbl9pZCI6IjAxOWFlMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDBhYSIsImFnZW50X2lkIjoiYWdlbnQtMSIsImVudmlyb25tZW50IjoibGl2ZSIsInNlc3Npb25faWQiOiJzLTEiLCJ0b29sIjoicGF5bWVudHMucmVmdW5kIiwiYXJnc19zaGEyNTYiOiI0ZjUzY2RhMThjMmJhYTBjMDM1NGJiNWY5YTNlY2JlNWVkMTJhYjRkOGUxMWJhODczYzJmMTExNjEyMDJiOTQ1Iiwia3dhcmdzX3NoYTI1NiI6IjE2NmE5YTlkZmJhOThmNDQxOGEzMTA5Yjg3OWNmMTE3ZTQ1MGVmNWUxMDc2MWRkMDM4ZDIyNjU5OTU5YzFlMDMiLCJkZWNpc2lvbiI6ImFwcHJvdmUiLCJydW5zIjp0cnVlLCJyZWFzb24iOiJydWxlX21hdGNoZWQiLCJwb2xpY3kiOnsiaWQiOiJwLTEiLCJuYW1lIjoiUmVmdW5kcyIsInZlcnNpb24iOjMsInJ1bGVfaW5kZXgiOjB9LCJkZWNpZGVkX2J5Ijp7InR5cGUiOiJ1c2VyIiwiaWQiOiJ1LTEifX0~0~eyJhbGciOiJFZERTQSIsImtpZCI6InJmYzgwMzItMSIsInR5cCI6ImFyZGVuLXJlY2VpcHQtcm9vdCtqd3QifQ.eyJyb290IjoiT093Sm03ZkdOU25adHh4bUpxRmtmdmZScEZfYjNaM214d3JHS185b3hPMCIsInNpemUiOjEsImlhdCI6MTc2NDU0NzIwMH0.Zit72rcHAPUS3mdw970fc4NH-w_ezIkrnb_yWSD8JP9Y1Dhs7v7M1124HMDGS-DUJbzUJewrTfK8EtF0svz4CA';

describe('batched receipt vectors', () => {
  test('a batch of one: fixed key and claims give a fixed receipt, which verifies', async () => {
    const [receipt] = signReceiptBatch([vectorClaims], 'rfc8032-1', rfcKey, issuedAt);
    expect(receipt).toBe(batchOfOne);
    expect(receipt?.split('~')[2]).toBe('0');
    expect(await verifyReceipt(receipt as string, undefined, [rfcPublicKey])).toEqual(vectorClaims);
  });

  test('a batch of three: fixed receipts (a digest of the three), each verifying', async () => {
    const claims = [vectorClaims, ...otherClaims];
    const receipts = signReceiptBatch(claims, 'rfc8032-1', rfcKey, issuedAt);
    expect(createHash('sha256').update(receipts.join('\n')).digest('hex')).toBe(
      '605b8819819d0c50f0b7a76c0f648cb9e613af88ba9a1e0ec903047bfc981cfa',
    );
    for (const [index, receipt] of receipts.entries()) {
      expect(await verifyReceipt(receipt, undefined, [rfcPublicKey])).toEqual(claims[index]);
    }
  });

  test('the tree follows RFC 6962: leaves and nodes are domain-separated', () => {
    const leaves = ['a', 'b', 'c'].map((text) => leafHash(Buffer.from(text)));
    const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
    expect(leaves[0]).toEqual(sha(Buffer.of(0), Buffer.from('a')));
    const { root, paths } = merkleTree(leaves);
    const ab = sha(Buffer.of(1), leaves[0] as Buffer, leaves[1] as Buffer);
    expect(root).toEqual(sha(Buffer.of(1), ab, leaves[2] as Buffer));
    expect(paths).toEqual([[leaves[1], leaves[2]], [leaves[0], leaves[2]], [ab]]);
    // A tree of one is its leaf, with an empty path.
    expect(merkleTree([leaves[0] as Buffer])).toEqual({ root: leaves[0], paths: [[]] });
    expect(() => merkleTree([])).toThrow();
  });
});

describe('batches of many receipts', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key: ReceiptPublicKey = {
    kty: 'OKP',
    crv: 'Ed25519',
    kid: 'k-1',
    x: publicKey.export({ format: 'jwk' }).x as string,
  };
  const claimsOf = (index: number) => ({
    ...vectorClaims,
    jti: `019ae000-0000-7000-8000-${String(index).padStart(12, '0')}`,
    action_id: `action-${index}`,
  });

  test('each receipt of batches of 1 to 40 and of 129 verifies, with its own proof only', async () => {
    for (const size of [...Array.from({ length: 40 }, (_, index) => index + 1), 129]) {
      const claims = Array.from({ length: size }, (_, index) => claimsOf(index));
      const receipts = signReceiptBatch(claims, 'k-1', privateKey, issuedAt);
      expect(new Set(receipts.map((receipt) => receipt.split('~')[3])).size).toBe(1);
      for (const [index, receipt] of receipts.entries()) {
        const verified = await verifyReceipt(receipt, undefined, [key]);
        expect(verified.action_id).toBe(`action-${index}`);
        expect(decodeReceipt(receipt).batch).toMatchObject({ index, root: { size } });
        if (size === 1) continue;
        // Its neighbour's proof does not lead its claims to the root.
        const parts = receipt.split('~');
        parts[2] = (receipts[(index + 1) % size] as string).split('~')[2] as string;
        await expect(verifyReceipt(parts.join('~'), undefined, [key])).rejects.toMatchObject({
          code: 'bad_signature',
        });
      }
    }
  }, 60_000);
});

describe('receipts signed at the group commit', () => {
  afterEach(closeStores);

  const open = async () => {
    const store = await freshStore();
    const receipts = await ReceiptService.open(store, 'merkle-test-secret', createLogger('silent'));
    const owner = await agent(store);
    return { store, receipts, owner };
  };
  const rootOf = (receipt: string) =>
    JSON.parse(
      Buffer.from((receipt.split('~')[3] as string).split('.')[1] as string, 'base64url').toString(
        'utf8',
      ),
    ) as { root: string; size: number };

  test("a turn's checks share a signed root; each receipt is stored as answered", async () => {
    const { store, receipts, owner } = await open();
    const actions = Array.from({ length: 12 }, (_, index) =>
      action(owner.id, { toolName: `tool.${index}`, kwargs: { index } }),
    );
    const issued = actions.map((made) => receipts.issue(checkReceiptInput(made)));
    // Not signed before its commit.
    expect(() => issued[0]?.receipt).toThrow(/before its group commit/);
    await Promise.all(
      actions.map((made, index) =>
        store.committer.submitAll([
          store.actions.insertStatement(made),
          issued[index]?.statement as Statement,
        ]),
      ),
    );
    const roots = new Set<string>();
    for (const [index, made] of actions.entries()) {
      const receipt = issued[index]?.receipt as string;
      const stored = await store.receipts.forAction(made.id);
      expect(stored.map((row) => row.receipt)).toEqual([receipt]);
      const claims = await verifyReceipt(
        receipt,
        { toolName: made.toolName, kwargs: made.kwargs, actionId: made.id },
        receipts.keysDocument(),
      );
      expect(claims).toEqual(issued[index]?.claims);
      roots.add(rootOf(receipt).root);
    }
    // Fewer signatures than receipts: the turn's writes were signed together.
    expect(roots.size).toBeLessThan(actions.length);
    expect(Math.max(...issued.map((item) => rootOf(item?.receipt as string).size))).toBeGreaterThan(
      1,
    );
  });

  test('a signing failure fails the commit: neither the action nor its receipt is written', async () => {
    const { store, receipts, owner } = await open();
    const good = action(owner.id);
    const goodReceipt = receipts.issue(checkReceiptInput(good));
    await store.committer.submitAll([
      store.actions.insertStatement(good),
      goodReceipt?.statement as Statement,
    ]);
    // Now the key cannot sign (an X25519 key in place of the Ed25519 one).
    const active = (receipts as unknown as { active: { privateKey: unknown } }).active;
    active.privateKey = generateKeyPairSync('x25519').privateKey;
    const bad = action(owner.id);
    const unrelated = action(owner.id);
    const badReceipt = receipts.issue(checkReceiptInput(bad));
    const results = await Promise.allSettled([
      store.committer.submitAll([
        store.actions.insertStatement(bad),
        badReceipt?.statement as Statement,
      ]),
      // A write of the same turn without a receipt still commits.
      store.committer.submit(store.actions.insertStatement(unrelated)),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled']);
    expect(await store.actions.get(bad.id)).toBeUndefined();
    expect(await store.receipts.forAction(bad.id)).toEqual([]);
    expect(await store.actions.get(unrelated.id)).toBeDefined();
    expect(() => badReceipt?.receipt).toThrow();
    expect(await store.receipts.forAction(good.id)).toHaveLength(1);
  });

  test('a receipt statement run without its sealer is refused by the database', async () => {
    const { store, receipts, owner } = await open();
    const made = action(owner.id);
    await store.actions.insert(made);
    const issued = receipts.issue(checkReceiptInput(made));
    if (!issued) throw new Error('receipts are on');
    const { sealer, ...unsealed } = issued.statement;
    expect(sealer).toBeDefined();
    await expect(store.database.batch([unsealed])).rejects.toThrow();
    expect(await store.receipts.forAction(made.id)).toEqual([]);
  });
});
