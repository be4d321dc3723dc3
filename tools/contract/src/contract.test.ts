import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { driftMessage, generate, generatedFile, loadDocument } from './generate.ts';

let document: Record<string, unknown>;

beforeAll(async () => {
  document = await loadDocument();
});

describe('the wire contract', () => {
  it("is what the server's zod schemas generate (else: pnpm --filter @arden/contract generate)", async () => {
    const committed = readFileSync(generatedFile, 'utf8');
    expect(driftMessage(await generate(document), committed)).toBeUndefined();
  });

  it('catches a drift: a fourth decision in the server schema fails the check', async () => {
    const changed = structuredClone(document) as {
      components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> };
    };
    const defaultAction = changed.components.schemas.Agent?.properties.default_action;
    expect(defaultAction?.enum).toEqual(['allow', 'block', 'requires_approval']);
    defaultAction?.enum?.push('escalate');
    const message = driftMessage(await generate(changed), await generate(document));
    expect(message).toMatch(/drifted/);
    expect(message).toMatch(/"requires_approval" \| "escalate"/);
    expect(message).toMatch(/pnpm --filter @arden\/contract generate/);
  });

  it('catches a missing file', async () => {
    expect(driftMessage(await generate(document), undefined)).toMatch(/the file is missing/);
  });
});
