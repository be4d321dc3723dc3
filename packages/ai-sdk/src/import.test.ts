import { configure, uninstallAdapters } from '@arden/core';
import { createTestArden } from '@arden/core/test';
import { expect, test } from 'vitest';

function integrations(): unknown[] {
  return (
    (globalThis as { AI_SDK_TELEMETRY_INTEGRATIONS?: unknown[] }).AI_SDK_TELEMETRY_INTEGRATIONS ??
    []
  );
}

test('importing the adapter registers nothing with ai; configure() does; uninstall removes it', async () => {
  await import('./index');
  expect(integrations()).toHaveLength(0);
  configure(createTestArden().options());
  expect(integrations()).toHaveLength(1);
  uninstallAdapters();
  expect(integrations()).toHaveLength(0);
});
