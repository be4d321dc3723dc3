import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    testTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: '@langchain/core@latest',
          include: ['src/**/*.test.ts'],
          env: { ARDEN_EXPECTED_LANGCHAIN_CORE: '1.4.0' },
          typecheck: {
            enabled: true,
            include: ['src/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      },
      {
        // The oldest @langchain/core the peer range accepts (>=1.0.0): the adapter's source and
        // this suite resolve it, so the patched internals (StructuredTool.call,
        // BaseChatModel._generateUncached and _streamIterator) are those of 1.0.0.
        extends: true,
        test: {
          name: '@langchain/core@1.0.0',
          include: ['src/peer-range.test.ts'],
          env: { ARDEN_EXPECTED_LANGCHAIN_CORE: '1.0.0' },
        },
        resolve: {
          alias: [{ find: /^@langchain\/core(\/.*)?$/, replacement: 'langchain-core-oldest$1' }],
        },
      },
    ],
  },
});
