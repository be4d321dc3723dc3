import { describe, expect, it } from 'vitest';
import { Arden } from './arden';
import { PolicyDeniedError } from './errors';
import {
  approversOf,
  assertReceiptCoversCall,
  base64UrlDecode,
  base64UrlEncode,
  decodeReceipt,
  type ReceiptPublicKey,
  ReceiptVerificationError,
  sha256Hex,
  verifyReceipt,
} from './receipts';
import { createTestArden } from './test/index';

// Signature vectors. The key is RFC 8032's test 1 (section 7.1); Ed25519 is deterministic, so
// the receipt below is exactly what any correct signer makes of these claims with this key.
const rfcPublicKey: ReceiptPublicKey = {
  kty: 'OKP',
  crv: 'Ed25519',
  kid: 'rfc8032-1',
  x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
};
const rfcEmptyMessageSignature =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

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
const vectorKwargs = '{"amount": 150, "order": "o-1"}';
const vectorReceipt =
  'eyJhbGciOiJFZERTQSIsImtpZCI6InJmYzgwMzItMSIsInR5cCI6ImFyZGVuLXJlY2VpcHQrand0In0.eyJ2IjoxLCJqdGkiOiIwMTlhZTAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDEiLCJpYXQiOjE3NjQ1NDcyMDAsImRlY2lkZWRfYXQiOjE3NjQ1NDcyMDAwMDAsImFjdGlvbl9pZCI6IjAxOWFlMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDBhYSIsImFnZW50X2lkIjoiYWdlbnQtMSIsImVudmlyb25tZW50IjoibGl2ZSIsInNlc3Npb25faWQiOiJzLTEiLCJ0b29sIjoicGF5bWVudHMucmVmdW5kIiwiYXJnc19zaGEyNTYiOiI0ZjUzY2RhMThjMmJhYTBjMDM1NGJiNWY5YTNlY2JlNWVkMTJhYjRkOGUxMWJhODczYzJmMTExNjEyMDJiOTQ1Iiwia3dhcmdzX3NoYTI1NiI6IjE2NmE5YTlkZmJhOThmNDQxOGEzMTA5Yjg3OWNmMTE3ZTQ1MGVmNWUxMDc2MWRkMDM4ZDIyNjU5OTU5YzFlMDMiLCJkZWNpc2lvbiI6ImFwcHJvdmUiLCJydW5zIjp0cnVlLCJyZWFzb24iOiJydWxlX21hdGNoZWQiLCJwb2xpY3kiOnsiaWQiOiJwLTEiLCJuYW1lIjoiUmVmdW5kcyIsInZlcnNpb24iOjMsInJ1bGVfaW5kZXgiOjB9LCJkZWNpZGVkX2J5Ijp7InR5cGUiOiJ1c2VyIiwiaWQiOiJ1LTEifX0.WD-BHsJwVaZkXtr-Glw6fhnsBEJrYbrwhS2EYJphmIZ6JzFtGka6G9JBNCXYXewnJiXEmNoa3vNj6VdfiikDBw';

const vectorCall = { toolName: 'payments.refund', args: [], kwargsJson: vectorKwargs };

describe('receipt signature vectors', () => {
  it("verifies RFC 8032's test 1 with Web Crypto (the primitive under receipts)", async () => {
    const key = await crypto.subtle.importKey(
      'jwk',
      { kty: 'OKP', crv: 'Ed25519', x: rfcPublicKey.x },
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    const signature = new Uint8Array(
      (rfcEmptyMessageSignature.match(/../g) as string[]).map((byte) => Number.parseInt(byte, 16)),
    );
    expect(await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, new Uint8Array())).toBe(
      true,
    );
  });

  it('verifies the vector receipt for its call and returns its claims', async () => {
    expect(await verifyReceipt(vectorReceipt, vectorCall, [rfcPublicKey])).toEqual(vectorClaims);
    expect(await verifyReceipt(vectorReceipt, vectorCall, { keys: [rfcPublicKey] })).toEqual(
      vectorClaims,
    );
    expect(await sha256Hex(vectorKwargs)).toBe(vectorClaims.kwargs_sha256);
  });

  it('refuses every single-bit change of the signed part and of the signature', async () => {
    const [header, payload, signature] = vectorReceipt.split('.') as [string, string, string];
    const flip = (part: string, index: number) => {
      const bytes = base64UrlDecode(part);
      bytes[index % bytes.length] = (bytes[index % bytes.length] as number) ^ 1;
      let binary = '';
      for (const byte of bytes) binary += String.fromCharCode(byte);
      return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    };
    for (const index of [0, 7, 100, 300, 500]) {
      const tampered = `${header}.${flip(payload, index)}.${signature}`;
      const error = await verifyReceipt(tampered, undefined, [rfcPublicKey]).catch((e) => e);
      expect(ReceiptVerificationError.isInstance(error)).toBe(true);
      expect(['bad_signature', 'malformed']).toContain(error.code);
    }
    for (const index of [0, 31, 63]) {
      await expect(
        verifyReceipt(`${header}.${payload}.${flip(signature, index)}`, undefined, [rfcPublicKey]),
      ).rejects.toMatchObject({ code: 'bad_signature' });
    }
  });

  it('refuses another key, another algorithm, and garbage', async () => {
    await expect(
      verifyReceipt(vectorReceipt, undefined, [{ ...rfcPublicKey, kid: 'other' }]),
    ).rejects.toMatchObject({ code: 'unknown_key' });
    await expect(
      verifyReceipt(vectorReceipt, undefined, [
        { ...rfcPublicKey, x: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c' },
      ]),
    ).rejects.toMatchObject({ code: 'bad_signature' });
    const header = btoa(JSON.stringify({ alg: 'none', kid: 'rfc8032-1' })).replace(/=+$/, '');
    const [, payload] = vectorReceipt.split('.');
    await expect(
      verifyReceipt(`${header}.${payload}.`, undefined, [rfcPublicKey]),
    ).rejects.toMatchObject({ code: 'malformed' });
    for (const garbage of ['', 'a.b', 'a.b.c', '!!.??.**']) {
      await expect(verifyReceipt(garbage, undefined, [rfcPublicKey])).rejects.toMatchObject({
        code: 'malformed',
      });
    }
  });

  it('binds the exact call: tool, argument bytes, action, agent, environment, session', async () => {
    const { claims } = decodeReceipt(vectorReceipt);
    await assertReceiptCoversCall(claims, vectorCall);
    const refused = async (call: Parameters<typeof assertReceiptCoversCall>[1], field: string) =>
      expect(assertReceiptCoversCall(claims, call)).rejects.toMatchObject({
        code: 'call_mismatch',
        field,
      });
    await refused({ ...vectorCall, toolName: 'payments.payout' }, 'tool');
    await refused(
      { ...vectorCall, kwargsJson: '{"amount": 1500, "order": "o-1"}' },
      'kwargs_sha256',
    );
    await refused({ ...vectorCall, kwargsJson: '{"amount":150,"order":"o-1"}' }, 'kwargs_sha256');
    await refused({ ...vectorCall, args: ['x'] }, 'args_sha256');
    await refused({ ...vectorCall, actionId: 'another' }, 'action_id');
    await refused({ ...vectorCall, agentId: 'agent-2' }, 'agent_id');
    await refused({ ...vectorCall, environment: 'test' }, 'environment');
    await refused({ ...vectorCall, sessionId: 's-2' }, 'session_id');
  });

  it('applies maxAgeSeconds and requireRuns', async () => {
    await expect(
      verifyReceipt(vectorReceipt, vectorCall, [rfcPublicKey], {
        maxAgeSeconds: 60,
        now: vectorClaims.decided_at + 61_000,
      }),
    ).rejects.toMatchObject({ code: 'expired' });
    expect(
      await verifyReceipt(vectorReceipt, vectorCall, [rfcPublicKey], {
        maxAgeSeconds: 60,
        now: vectorClaims.decided_at + 59_000,
        requireRuns: true,
      }),
    ).toMatchObject({ decision: 'approve' });
  });
});

// Batched receipts (form r2): the receipts of one group commit are leaves of a Merkle tree whose
// root is signed once. Vectors made by the server's signer (packages/server/src/receipts/
// merkle.test.ts makes the same strings) with RFC 8032 test 1's key, issued at 1764547200123 ms:
// the vector claims alone (a tree of one), and a batch of three (the vector claims, an allowed
// call and a blocked call of two other actions).
const batchedVector =
  'r2~eyJ2IjoxLCJqdGkiOiIwMTlhZTAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDEiLCJpYXQiOjE3NjQ1NDcyMDAsImRlY2lkZWRfYXQiOjE3NjQ1NDcyMDAwMDAsImFjdGlvbl9pZCI6IjAxOWFlMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDBhYSIsImFnZW50X2lkIjoiYWdlbnQtMSIsImVudmlyb25tZW50IjoibGl2ZSIsInNlc3Npb25faWQiOiJzLTEiLCJ0b29sIjoicGF5bWVudHMucmVmdW5kIiwiYXJnc19zaGEyNTYiOiI0ZjUzY2RhMThjMmJhYTBjMDM1NGJiNWY5YTNlY2JlNWVkMTJhYjRkOGUxMWJhODczYzJmMTExNjEyMDJiOTQ1Iiwia3dhcmdzX3NoYTI1NiI6IjE2NmE5YTlkZmJhOThmNDQxOGEzMTA5Yjg3OWNmMTE3ZTQ1MGVmNWUxMDc2MWRkMDM4ZDIyNjU5OTU5YzFlMDMiLCJkZWNpc2lvbiI6ImFwcHJvdmUiLCJydW5zIjp0cnVlLCJyZWFzb24iOiJydWxlX21hdGNoZWQiLCJwb2xpY3kiOnsiaWQiOiJwLTEiLCJuYW1lIjoiUmVmdW5kcyIsInZlcnNpb24iOjMsInJ1bGVfaW5kZXgiOjB9LCJkZWNpZGVkX2J5Ijp7InR5cGUiOiJ1c2VyIiwiaWQiOiJ1LTEifX0~0~eyJhbGciOiJFZERTQSIsImtpZCI6InJmYzgwMzItMSIsInR5cCI6ImFyZGVuLXJlY2VpcHQtcm9vdCtqd3QifQ.eyJyb290IjoiT093Sm03ZkdOU25adHh4bUpxRmtmdmZScEZfYjNaM214d3JHS185b3hPMCIsInNpemUiOjEsImlhdCI6MTc2NDU0NzIwMH0.Zit72rcHAPUS3mdw970fc4NH-w_ezIkrnb_yWSD8JP9Y1Dhs7v7M1124HMDGS-DUJbzUJewrTfK8EtF0svz4CA';
const batchOfThree = [
  'r2~eyJ2IjoxLCJqdGkiOiIwMTlhZTAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDEiLCJpYXQiOjE3NjQ1NDcyMDAsImRlY2lkZWRfYXQiOjE3NjQ1NDcyMDAwMDAsImFjdGlvbl9pZCI6IjAxOWFlMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDBhYSIsImFnZW50X2lkIjoiYWdlbnQtMSIsImVudmlyb25tZW50IjoibGl2ZSIsInNlc3Npb25faWQiOiJzLTEiLCJ0b29sIjoicGF5bWVudHMucmVmdW5kIiwiYXJnc19zaGEyNTYiOiI0ZjUzY2RhMThjMmJhYTBjMDM1NGJiNWY5YTNlY2JlNWVkMTJhYjRkOGUxMWJhODczYzJmMTExNjEyMDJiOTQ1Iiwia3dhcmdzX3NoYTI1NiI6IjE2NmE5YTlkZmJhOThmNDQxOGEzMTA5Yjg3OWNmMTE3ZTQ1MGVmNWUxMDc2MWRkMDM4ZDIyNjU5OTU5YzFlMDMiLCJkZWNpc2lvbiI6ImFwcHJvdmUiLCJydW5zIjp0cnVlLCJyZWFzb24iOiJydWxlX21hdGNoZWQiLCJwb2xpY3kiOnsiaWQiOiJwLTEiLCJuYW1lIjoiUmVmdW5kcyIsInZlcnNpb24iOjMsInJ1bGVfaW5kZXgiOjB9LCJkZWNpZGVkX2J5Ijp7InR5cGUiOiJ1c2VyIiwiaWQiOiJ1LTEifX0~0.LpLcCufoyqCOa1tujQ66kkpa342tho0i6BNVG-1eaOg.GW3DKZ0_xZC61h4XgGn3AO6Q-DvnsW-_0OigFMaP1uU~eyJhbGciOiJFZERTQSIsImtpZCI6InJmYzgwMzItMSIsInR5cCI6ImFyZGVuLXJlY2VpcHQtcm9vdCtqd3QifQ.eyJyb290IjoiTXUwZ1lDQ3hrLUM3UXExTHQyZ3IzRU5fTDJvSE5FcTh1LW1VeVd3ekZKZyIsInNpemUiOjMsImlhdCI6MTc2NDU0NzIwMH0.aa5bFtQaCYowj8TQAIdJYm12KFuuog1V3IcgQlYhRgDIAxEUIyloJidtpCxFSAQve-GtIx1IkjegZl3HI64pAw',
  'r2~eyJ2IjoxLCJqdGkiOiIwMTlhZTAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDIiLCJpYXQiOjE3NjQ1NDcyMDAsImRlY2lkZWRfYXQiOjE3NjQ1NDcyMDAwMDAsImFjdGlvbl9pZCI6IjAxOWFlMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDBhYiIsImFnZW50X2lkIjoiYWdlbnQtMSIsImVudmlyb25tZW50IjoibGl2ZSIsInNlc3Npb25faWQiOiJzLTEiLCJ0b29sIjoicGF5bWVudHMucmVmdW5kIiwiYXJnc19zaGEyNTYiOiI0ZjUzY2RhMThjMmJhYTBjMDM1NGJiNWY5YTNlY2JlNWVkMTJhYjRkOGUxMWJhODczYzJmMTExNjEyMDJiOTQ1Iiwia3dhcmdzX3NoYTI1NiI6ImE2MGJlYWY5Mjg0MWRlMDcwMTc0MThhNmMzMjA2ZTkzZjdkMDE3OWRkMTY3ODViZWM1OTNjZjQ0NTIwZDNjMjYiLCJkZWNpc2lvbiI6ImFsbG93IiwicnVucyI6dHJ1ZSwicmVhc29uIjoiZGVmYXVsdF9hbGxvdyIsInBvbGljeSI6bnVsbCwiZGVjaWRlZF9ieSI6eyJ0eXBlIjoicG9saWN5IiwiaWQiOm51bGx9fQ~1.OOwJm7fGNSnZtxxmJqFkfvfRpF_b3Z3mxwrGK_9oxO0.GW3DKZ0_xZC61h4XgGn3AO6Q-DvnsW-_0OigFMaP1uU~eyJhbGciOiJFZERTQSIsImtpZCI6InJmYzgwMzItMSIsInR5cCI6ImFyZGVuLXJlY2VpcHQtcm9vdCtqd3QifQ.eyJyb290IjoiTXUwZ1lDQ3hrLUM3UXExTHQyZ3IzRU5fTDJvSE5FcTh1LW1VeVd3ekZKZyIsInNpemUiOjMsImlhdCI6MTc2NDU0NzIwMH0.aa5bFtQaCYowj8TQAIdJYm12KFuuog1V3IcgQlYhRgDIAxEUIyloJidtpCxFSAQve-GtIx1IkjegZl3HI64pAw',
  'r2~eyJ2IjoxLCJqdGkiOiIwMTlhZTAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDMiLCJpYXQiOjE3NjQ1NDcyMDAsImRlY2lkZWRfYXQiOjE3NjQ1NDcyMDAwMDAsImFjdGlvbl9pZCI6IjAxOWFlMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDBhYyIsImFnZW50X2lkIjoiYWdlbnQtMSIsImVudmlyb25tZW50IjoibGl2ZSIsInNlc3Npb25faWQiOiJzLTEiLCJ0b29sIjoicGF5bWVudHMucmVmdW5kIiwiYXJnc19zaGEyNTYiOiI0ZjUzY2RhMThjMmJhYTBjMDM1NGJiNWY5YTNlY2JlNWVkMTJhYjRkOGUxMWJhODczYzJmMTExNjEyMDJiOTQ1Iiwia3dhcmdzX3NoYTI1NiI6ImE2MGJlYWY5Mjg0MWRlMDcwMTc0MThhNmMzMjA2ZTkzZjdkMDE3OWRkMTY3ODViZWM1OTNjZjQ0NTIwZDNjMjYiLCJkZWNpc2lvbiI6ImJsb2NrIiwicnVucyI6ZmFsc2UsInJlYXNvbiI6ImRlZmF1bHRfYWxsb3ciLCJwb2xpY3kiOm51bGwsImRlY2lkZWRfYnkiOnsidHlwZSI6InBvbGljeSIsImlkIjpudWxsfX0~2.qbyAy4BYpLB98-EYk5t9hbQM5J4T6dGbuLFBtvQ_Yks~eyJhbGciOiJFZERTQSIsImtpZCI6InJmYzgwMzItMSIsInR5cCI6ImFyZGVuLXJlY2VpcHQtcm9vdCtqd3QifQ.eyJyb290IjoiTXUwZ1lDQ3hrLUM3UXExTHQyZ3IzRU5fTDJvSE5FcTh1LW1VeVd3ekZKZyIsInNpemUiOjMsImlhdCI6MTc2NDU0NzIwMH0.aa5bFtQaCYowj8TQAIdJYm12KFuuog1V3IcgQlYhRgDIAxEUIyloJidtpCxFSAQve-GtIx1IkjegZl3HI64pAw',
] as const;
const batchKwargs = '{"amount": 4000, "order": "o-3"}';

// Replaces one `~`-separated part of a batched receipt.
const withPart = (receipt: string, index: number, part: string) => {
  const parts = receipt.split('~');
  parts[index] = part;
  return parts.join('~');
};

describe('batched receipt vectors (r2)', () => {
  it('verifies a batch of one (empty inclusion path) for its call and returns its claims', async () => {
    expect(batchedVector.split('~')[2]).toBe('0');
    expect(await verifyReceipt(batchedVector, vectorCall, [rfcPublicKey])).toEqual(vectorClaims);
    const decoded = decodeReceipt(batchedVector);
    expect(decoded.header).toEqual({
      alg: 'EdDSA',
      kid: 'rfc8032-1',
      typ: 'arden-receipt-root+jwt',
    });
    expect(decoded.batch).toMatchObject({ index: 0, path: [], root: { size: 1, iat: 1764547200 } });
  });

  it('verifies each receipt of a batch of three, each for its own call', async () => {
    const calls = [
      vectorCall,
      {
        toolName: 'payments.refund',
        kwargsJson: batchKwargs,
        actionId: '019ae000-0000-7000-8000-0000000000ab',
      },
      {
        toolName: 'payments.refund',
        kwargsJson: batchKwargs,
        actionId: '019ae000-0000-7000-8000-0000000000ac',
      },
    ];
    const decisions = [];
    for (const [index, receipt] of batchOfThree.entries()) {
      const claims = await verifyReceipt(receipt, calls[index], [rfcPublicKey]);
      decisions.push(claims.decision);
      expect(decodeReceipt(receipt).batch).toMatchObject({ index, root: { size: 3 } });
    }
    expect(decisions).toEqual(['approve', 'allow', 'block']);
    // One signed root for the three.
    expect(new Set(batchOfThree.map((receipt) => receipt.split('~')[3])).size).toBe(1);
  });

  it('refuses receipts of one batch swapped between their calls, and swapped proofs', async () => {
    const [first, second] = batchOfThree as unknown as [string, string, string];
    const secondCall = {
      toolName: 'payments.refund',
      kwargsJson: batchKwargs,
      actionId: '019ae000-0000-7000-8000-0000000000ab',
    };
    // The first call's receipt presented for the second call (and the other way round).
    await expect(verifyReceipt(first, secondCall, [rfcPublicKey])).rejects.toMatchObject({
      code: 'call_mismatch',
    });
    await expect(verifyReceipt(second, vectorCall, [rfcPublicKey])).rejects.toMatchObject({
      code: 'call_mismatch',
    });
    // The second's claims with the first's inclusion proof, and the other way round.
    const firstProof = first.split('~')[2] as string;
    const secondProof = second.split('~')[2] as string;
    for (const swapped of [withPart(second, 2, firstProof), withPart(first, 2, secondProof)]) {
      await expect(verifyReceipt(swapped, undefined, [rfcPublicKey])).rejects.toMatchObject({
        code: 'bad_signature',
      });
    }
  });

  it('refuses tampered claims, a tampered path, another root, and another key', async () => {
    const receipt = batchOfThree[0];
    const refused = async (tampered: string, codes: string[]) => {
      const error = await verifyReceipt(tampered, undefined, [rfcPublicKey]).catch((e) => e);
      expect(ReceiptVerificationError.isInstance(error)).toBe(true);
      expect(codes).toContain(error.code);
    };
    const [, claimsPart, proofPart, rootJws] = receipt.split('~') as [
      string,
      string,
      string,
      string,
    ];
    // Claims: another decision, re-encoded (valid JSON, so only the proof can catch it).
    const claims = JSON.parse(new TextDecoder().decode(base64UrlDecode(claimsPart)));
    const forged = base64UrlEncode(
      new TextEncoder().encode(JSON.stringify({ ...claims, decision: 'allow' })),
    );
    await refused(withPart(receipt, 1, forged), ['bad_signature']);
    // Every flipped bit of the claims or of a path hash.
    const flip = (part: string, index: number) => {
      const bytes = base64UrlDecode(part);
      bytes[index % bytes.length] = (bytes[index % bytes.length] as number) ^ 1;
      return base64UrlEncode(bytes);
    };
    for (const index of [0, 9, 200, 400]) {
      await refused(withPart(receipt, 1, flip(claimsPart, index)), ['bad_signature', 'malformed']);
    }
    const [leafIndex, ...path] = proofPart.split('.') as [string, ...string[]];
    for (const [position, hash] of path.entries()) {
      for (const bit of [0, 31]) {
        const changed = [...path];
        changed[position] = flip(hash, bit);
        await refused(withPart(receipt, 2, [leafIndex, ...changed].join('.')), ['bad_signature']);
      }
    }
    // Another index, a shorter or longer path, path hashes swapped.
    await refused(withPart(receipt, 2, ['1', ...path].join('.')), ['bad_signature']);
    await refused(withPart(receipt, 2, ['3', ...path].join('.')), ['bad_signature']);
    await refused(withPart(receipt, 2, [leafIndex, path[0] as string].join('.')), [
      'bad_signature',
    ]);
    await refused(withPart(receipt, 2, [leafIndex, ...path, path[0] as string].join('.')), [
      'bad_signature',
    ]);
    await refused(withPart(receipt, 2, [leafIndex, ...[...path].reverse()].join('.')), [
      'bad_signature',
    ]);
    await refused(withPart(receipt, 2, '01'), ['malformed']);
    // Another signed root: the batch of one's (validly signed, for another tree).
    await refused(withPart(receipt, 3, batchedVector.split('~')[3] as string), ['bad_signature']);
    // The root payload changed (size or root), under the same signature.
    const [header, payload, signature] = rootJws.split('.') as [string, string, string];
    const root = JSON.parse(new TextDecoder().decode(base64UrlDecode(payload)));
    for (const changed of [
      { ...root, size: 4 },
      { ...root, root: path[0] },
    ]) {
      const body = base64UrlEncode(new TextEncoder().encode(JSON.stringify(changed)));
      await refused(withPart(receipt, 3, `${header}.${body}.${signature}`), ['bad_signature']);
    }
    // Another key under the same kid, and an unknown kid.
    await expect(
      verifyReceipt(receipt, undefined, [
        { ...rfcPublicKey, x: 'PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw' },
      ]),
    ).rejects.toMatchObject({ code: 'bad_signature' });
    await expect(
      verifyReceipt(receipt, undefined, [{ ...rfcPublicKey, kid: 'other' }]),
    ).rejects.toMatchObject({ code: 'unknown_key' });
    // Garbage in each part.
    for (const garbage of [
      'r2~',
      'r2~a~0~b',
      `r2~${claimsPart}~0`,
      `r2~${claimsPart}~x~${rootJws}`,
    ]) {
      await refused(garbage, ['malformed']);
    }
  });

  it('refuses a signed root, or a JWS of another type, presented as a receipt', async () => {
    const rootJws = batchedVector.split('~')[3] as string;
    await expect(verifyReceipt(rootJws, undefined, [rfcPublicKey])).rejects.toMatchObject({
      code: 'malformed',
    });
    // The batched form's signed part must be a root.
    const single = vectorReceipt;
    await expect(
      verifyReceipt(withPart(batchedVector, 3, single), undefined, [rfcPublicKey]),
    ).rejects.toMatchObject({ code: 'malformed' });
  });

  it('still verifies old single-signature receipts beside batched ones', async () => {
    expect(await verifyReceipt(vectorReceipt, vectorCall, [rfcPublicKey])).toEqual(
      await verifyReceipt(batchedVector, vectorCall, [rfcPublicKey]),
    );
    expect(decodeReceipt(vectorReceipt).batch).toBeUndefined();
  });
});

// A second vector: an approval with edit by two people. Its hashes bind the edited call; `edited`
// names the call as the agent made it.
const editedVectorReceipt =
  'eyJhbGciOiJFZERTQSIsImtpZCI6InJmYzgwMzItMSIsInR5cCI6ImFyZGVuLXJlY2VpcHQrand0In0.eyJ2IjoxLCJqdGkiOiIwMTlhZTAwMC0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDIiLCJpYXQiOjE3NjQ1NDcyNjAsImRlY2lkZWRfYXQiOjE3NjQ1NDcyNjAwMDAsImFjdGlvbl9pZCI6IjAxOWFlMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDBiYiIsImFnZW50X2lkIjoiYWdlbnQtMSIsImVudmlyb25tZW50IjoibGl2ZSIsInNlc3Npb25faWQiOiJzLTEiLCJ0b29sIjoicGF5bWVudHMucmVmdW5kIiwiYXJnc19zaGEyNTYiOiI0ZjUzY2RhMThjMmJhYTBjMDM1NGJiNWY5YTNlY2JlNWVkMTJhYjRkOGUxMWJhODczYzJmMTExNjEyMDJiOTQ1Iiwia3dhcmdzX3NoYTI1NiI6Ijg2ZmY1YjIyMzBiZjkzNDU1OTYxZmYxYTYyM2I0NWQyNjQyZmNlMmI5M2RkOWE1YTM3NzFhNGQzNDZjMDNjMmMiLCJkZWNpc2lvbiI6ImFwcHJvdmUiLCJydW5zIjp0cnVlLCJyZWFzb24iOiJydWxlX21hdGNoZWQiLCJwb2xpY3kiOnsiaWQiOiJwLTEiLCJuYW1lIjoiUmVmdW5kcyIsInZlcnNpb24iOjMsInJ1bGVfaW5kZXgiOjF9LCJkZWNpZGVkX2J5Ijp7InR5cGUiOiJ1c2VyIiwiaWQiOiJ1LTIifSwiZWRpdGVkIjp7Im9yaWdpbmFsX2FyZ3Nfc2hhMjU2IjoiNGY1M2NkYTE4YzJiYWEwYzAzNTRiYjVmOWEzZWNiZTVlZDEyYWI0ZDhlMTFiYTg3M2MyZjExMTYxMjAyYjk0NSIsIm9yaWdpbmFsX2t3YXJnc19zaGEyNTYiOiJhNjBiZWFmOTI4NDFkZTA3MDE3NDE4YTZjMzIwNmU5M2Y3ZDAxNzlkZDE2Nzg1YmVjNTkzY2Y0NDUyMGQzYzI2IiwiYnkiOiJhbm5AZXhhbXBsZS5jb20ifSwiYXBwcm92ZWRfaW4iOiJkYXNoYm9hcmQiLCJhcHByb3ZlcnMiOlsiYW5uQGV4YW1wbGUuY29tIiwiYm9iQGV4YW1wbGUuY29tIl19.gP3r-Vw6-39KN7n7B9UChgUzVhP6a0hsaTZZvUs1Xe7u5ink50cT5xEKvm12BPzItKgoAyFh1j3MWOngObwPAg';
const editedKwargs = '{"amount":400,"order":"o-3"}';
const originalKwargs = '{"amount": 4000, "order": "o-3"}';

// RFC 8032 test 1's secret key, to sign claims a correct server would never make.
async function signWithRfcKey(claims: unknown): Promise<string> {
  const key = await crypto.subtle.importKey(
    'jwk',
    {
      kty: 'OKP',
      crv: 'Ed25519',
      x: rfcPublicKey.x,
      d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
    },
    { name: 'Ed25519' },
    false,
    ['sign'],
  );
  const encode = (bytes: Uint8Array) => base64UrlEncode(bytes);
  const header = vectorReceipt.split('.')[0] as string;
  const payload = encode(new TextEncoder().encode(JSON.stringify(claims)));
  const signature = new Uint8Array(
    await crypto.subtle.sign(
      { name: 'Ed25519' },
      key,
      new TextEncoder().encode(`${header}.${payload}`),
    ),
  );
  return `${header}.${payload}.${encode(signature)}`;
}

describe('the claims of approvals', () => {
  it('verifies the edited vector for the edited call, not the original one', async () => {
    const call = { toolName: 'payments.refund', kwargsJson: editedKwargs };
    const claims = await verifyReceipt(editedVectorReceipt, call, [rfcPublicKey]);
    expect(claims).toMatchObject({
      decision: 'approve',
      approved_in: 'dashboard',
      approvers: ['ann@example.com', 'bob@example.com'],
      edited: {
        original_args_sha256: await sha256Hex('[]'),
        original_kwargs_sha256: await sha256Hex(originalKwargs),
        by: 'ann@example.com',
      },
    });
    await expect(
      verifyReceipt(editedVectorReceipt, { ...call, kwargsJson: originalKwargs }, [rfcPublicKey]),
    ).rejects.toMatchObject({ code: 'call_mismatch', field: 'kwargs_sha256' });
  });

  it('counts approvers for minApprovers', async () => {
    expect(approversOf(decodeReceipt(editedVectorReceipt).claims)).toEqual([
      'ann@example.com',
      'bob@example.com',
    ]);
    expect(approversOf(decodeReceipt(vectorReceipt).claims)).toEqual(['u-1']);
    await verifyReceipt(editedVectorReceipt, undefined, [rfcPublicKey], { minApprovers: 2 });
    await expect(
      verifyReceipt(editedVectorReceipt, undefined, [rfcPublicKey], { minApprovers: 3 }),
    ).rejects.toMatchObject({ code: 'too_few_approvers' });
    await verifyReceipt(vectorReceipt, undefined, [rfcPublicKey], { minApprovers: 1 });
    await expect(
      verifyReceipt(vectorReceipt, undefined, [rfcPublicKey], { minApprovers: 2 }),
    ).rejects.toMatchObject({ code: 'too_few_approvers' });
    // A denial has no approvers, whoever decided it.
    const denial = await signWithRfcKey({ ...vectorClaims, decision: 'deny', runs: false });
    await expect(
      verifyReceipt(denial, undefined, [rfcPublicKey], { minApprovers: 1 }),
    ).rejects.toMatchObject({ code: 'too_few_approvers' });
  });

  it('refuses approval claims of the wrong shape, even when signed', async () => {
    for (const bad of [
      { edited: { original_args_sha256: 'x', original_kwargs_sha256: 'y', by: null } },
      { edited: null },
      { approved_in: 'slack' },
      { approvers: 'ann@example.com' },
      { approvers: [1, 2] },
      { redacted: [{ path: 'card' }] },
    ]) {
      const receipt = await signWithRfcKey({ ...vectorClaims, ...bad });
      await expect(verifyReceipt(receipt, undefined, [rfcPublicKey])).rejects.toMatchObject({
        code: 'malformed',
      });
    }
  });
});

describe('the exact call in guarded tools', () => {
  it('refuses to run a held call whose arguments changed while it waited for approval', async () => {
    const server = createTestArden({ decisions: { refund: 'requires_approval' } });
    const arden = new Arden(server.options());
    let ran = 0;
    const refund = arden.guardTool('refund', async (_input: { amount: number }) => {
      ran += 1;
      return 'refunded';
    });
    const input = { amount: 40 };
    const outcome = refund(input).catch((error) => error);
    const held = await server.nextPending();
    input.amount = 4_000;
    server.approve(held.actionId);
    const error = await outcome;
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/arguments changed after they were checked/);
    expect(ran).toBe(0);
    // Unchanged arguments run.
    const second = refund({ amount: 41 });
    server.approve((await server.nextPending()).actionId);
    expect(await second).toBe('refunded');
    await arden.shutdown();
  });

  it('refuses an approval whose receipt is for another call (a replayed approval), and runs one for this call', async () => {
    const server = createTestArden({ decisions: { 'payments.refund': 'requires_approval' } });
    const base = server.options();
    let statusReceipt: (actionId: string) => Promise<string> = async () => vectorReceipt;
    // The server's /status answer carries the receipt chosen by the test.
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await base.fetch(input, init);
      const url = String(input instanceof Request ? input.url : input);
      const match = /\/status\/([^/?]+)/.exec(url);
      if (!match) return response;
      const body = (await response.json()) as Record<string, unknown>;
      if (body.status === 'approved') body.receipt = await statusReceipt(match[1] as string);
      return new Response(JSON.stringify(body), {
        status: response.status,
        headers: { 'content-type': 'application/json' },
      });
    };
    const arden = new Arden({ ...base, fetch });
    let ran = 0;
    const refund = arden.guardTool(
      'payments.refund',
      async (_input: { amount: number; order: string }) => {
        ran += 1;
        return 'refunded';
      },
    );
    // A genuine approval of another refund, replayed for this one.
    const replayed = refund({ amount: 150, order: 'o-1' }).catch((error) => error);
    server.approve((await server.nextPending()).actionId);
    const error = await replayed;
    expect(PolicyDeniedError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/receipt is for another call/);
    expect(ran).toBe(0);
    // A receipt for this action and these bytes lets it run.
    statusReceipt = async (actionId) => {
      const claims = {
        ...vectorClaims,
        action_id: actionId,
        kwargs_sha256: await sha256Hex('{"amount":150,"order":"o-2"}'),
      };
      const [header, , signature] = vectorReceipt.split('.');
      const payload = btoa(JSON.stringify(claims))
        .replace(/\+/g, '-')
        .replace(/\//g, '_')
        .replace(/=+$/, '');
      return `${header}.${payload}.${signature}`;
    };
    const matching = refund({ amount: 150, order: 'o-2' });
    server.approve((await server.nextPending()).actionId);
    expect(await matching).toBe('refunded');
    expect(ran).toBe(1);
    await arden.shutdown();
  });

  it('runs an approval with edit only when its receipt binds the edited call and names this one', async () => {
    const server = createTestArden({ decisions: { 'payments.refund': 'requires_approval' } });
    const base = server.options();
    let receiptFor: (actionId: string) => Promise<string> = async () => editedVectorReceipt;
    // /status answers an approval with edit (as a server does for clients that take edits).
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await base.fetch(input, init);
      const url = String(input instanceof Request ? input.url : input);
      const match = /\/status\/([^/?]+)/.exec(url);
      if (!match) return response;
      const body = (await response.json()) as Record<string, unknown>;
      if (body.status === 'approved') {
        body.receipt = await receiptFor(match[1] as string);
        body.edited = {
          kwargs: JSON.parse(editedKwargs),
          kwargs_json: editedKwargs,
          patch: [{ op: 'replace', path: '/amount', value: 400 }],
          edited_by: 'ann@example.com',
        };
      }
      return new Response(JSON.stringify(body), {
        status: response.status,
        headers: { 'content-type': 'application/json' },
      });
    };
    const arden = new Arden({ ...base, fetch });
    const ran: unknown[] = [];
    const refund = arden.guardTool(
      'payments.refund',
      async (input: { amount: number; order: string }) => {
        ran.push(input);
        return `refunded ${input.amount}`;
      },
    );
    const signed = (claims: Record<string, unknown>) => async (actionId: string) =>
      signWithRfcKey({
        ...decodeReceipt(editedVectorReceipt).claims,
        action_id: actionId,
        ...claims,
      });
    // The edit's receipt for another original call (a replayed approval with edit): refused.
    const replayed = refund({ amount: 5000, order: 'o-3' }).catch((error) => error);
    receiptFor = signed({});
    server.approve((await server.nextPending()).actionId);
    expect((await replayed).message).toMatch(/receipt is for another call/);
    // A receipt of the original call only (no edit claimed): refused, the edit is not covered.
    receiptFor = signed({
      kwargs_sha256: await sha256Hex('{"amount":4000,"order":"o-3"}'),
      edited: undefined,
    });
    const uncovered = refund({ amount: 4000, order: 'o-3' }).catch((error) => error);
    server.approve((await server.nextPending()).actionId);
    expect((await uncovered).message).toMatch(/disagree on whether an approver edited/);
    expect(ran).toEqual([]);
    // The genuine one: the edited call, naming these bytes as the original.
    receiptFor = signed({
      edited: {
        original_args_sha256: await sha256Hex('[]'),
        original_kwargs_sha256: await sha256Hex('{"amount":4000,"order":"o-3"}'),
        by: 'ann@example.com',
      },
    });
    const genuine = refund({ amount: 4000, order: 'o-3' });
    server.approve((await server.nextPending()).actionId);
    expect(await genuine).toBe('refunded 400');
    expect(ran).toEqual([{ amount: 400, order: 'o-3' }]);
    await arden.shutdown();
  });
});
