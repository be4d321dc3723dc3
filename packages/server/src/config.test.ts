import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { defaultCheckValueLimit, parseByteSize, parseServerFlags, resolveConfig } from './config';
import { createLogger } from './logger';
import { loadPricing, Pricing } from './pricing';
import { temporaryDirectory } from './test-fixtures/harness';

describe('configuration', () => {
  test('defaults, then the environment, then explicit options', () => {
    expect(resolveConfig({}, {})).toMatchObject({
      port: 8787,
      host: '127.0.0.1',
      dataDir: '.arden',
      bodyLimit: 1024 * 1024,
      logLevel: 'info',
      approvalTimeoutSeconds: 3600,
      rateLimit: 0,
    });
    const environment = {
      ARDEN_PORT: '9000',
      ARDEN_DATA_DIR: '/data',
      DATABASE_URL: 'file:/data/x.db',
      ARDEN_BODY_LIMIT: '2mb',
      ARDEN_LOG_LEVEL: 'warn',
      ARDEN_APPROVAL_TIMEOUT: '60',
    };
    expect(resolveConfig({}, environment)).toMatchObject({
      port: 9000,
      dataDir: '/data',
      databaseUrl: 'file:/data/x.db',
      bodyLimit: 2 * 1024 * 1024,
      logLevel: 'warn',
      approvalTimeoutSeconds: 60,
    });
    expect(resolveConfig({ port: 1234 }, environment).port).toBe(1234);
  });

  test('bad settings are named', () => {
    expect(() => resolveConfig({}, { ARDEN_PORT: 'eighty' })).toThrow(/ARDEN_PORT/);
    expect(() => resolveConfig({}, { ARDEN_LOG_LEVEL: 'loud' })).toThrow(/logLevel/);
    expect(() => parseByteSize('lots')).toThrow(/bodyLimit/);
    expect(parseByteSize('512kb')).toBe(512 * 1024);
  });

  test('the check body limit: 256 KiB, the general limit when smaller, or as set', () => {
    expect(resolveConfig({}, {}).checkBodyLimit).toBe(256 * 1024);
    expect(resolveConfig({}, { ARDEN_BODY_LIMIT: '64kb' }).checkBodyLimit).toBe(64 * 1024);
    expect(resolveConfig({}, { ARDEN_BODY_LIMIT: '4mb' }).checkBodyLimit).toBe(256 * 1024);
    expect(resolveConfig({}, { ARDEN_CHECK_BODY_LIMIT: '2mb' })).toMatchObject({
      checkBodyLimit: 2 * 1024 * 1024,
      bodyLimit: 1024 * 1024,
    });
    expect(
      resolveConfig({ checkBodyLimit: 1000 }, { ARDEN_CHECK_BODY_LIMIT: '2mb' }).checkBodyLimit,
    ).toBe(1000);
    expect(parseServerFlags(['--check-body-limit', '512kb'])).toEqual({ checkBodyLimit: '512kb' });
    for (const bad of ['lots', '0', '-1kb', '1 tb']) {
      expect(() => resolveConfig({}, { ARDEN_CHECK_BODY_LIMIT: bad })).toThrow(
        /^ARDEN_CHECK_BODY_LIMIT must be a size in bytes or like "1mb" or "512kb"/,
      );
    }
    expect(() => resolveConfig({ checkBodyLimit: 0 }, {})).toThrow(/checkBodyLimit/);
  });

  test('the check value limit: the default, or as set', () => {
    expect(resolveConfig({}, {}).checkValueLimit).toBe(defaultCheckValueLimit);
    expect(resolveConfig({}, { ARDEN_CHECK_VALUE_LIMIT: '100000' }).checkValueLimit).toBe(100_000);
    expect(
      resolveConfig({ checkValueLimit: 10 }, { ARDEN_CHECK_VALUE_LIMIT: '100000' }).checkValueLimit,
    ).toBe(10);
    expect(parseServerFlags(['--check-value-limit', '5000'])).toEqual({ checkValueLimit: 5000 });
    for (const bad of ['lots', '0', '-1', '1.5']) {
      expect(() => resolveConfig({}, { ARDEN_CHECK_VALUE_LIMIT: bad })).toThrow(
        /^ARDEN_CHECK_VALUE_LIMIT must be/,
      );
    }
    expect(() => resolveConfig({ checkValueLimit: 0 }, {})).toThrow(/^checkValueLimit must be/);
  });

  test('the HTTP MCP gateway: no upstream timeout and 16 MiB messages by default, or as set', () => {
    expect(resolveConfig({}, {})).toMatchObject({
      mcpUpstreamTimeoutMs: 0,
      mcpMaxMessageBytes: 16 * 1024 * 1024,
    });
    expect(
      resolveConfig(
        {},
        { ARDEN_MCP_UPSTREAM_TIMEOUT: '2.5', ARDEN_MCP_MAX_MESSAGE_BYTES: '512kb' },
      ),
    ).toMatchObject({ mcpUpstreamTimeoutMs: 2_500, mcpMaxMessageBytes: 512 * 1024 });
    expect(
      resolveConfig(
        { mcpUpstreamTimeoutSeconds: 30, mcpMaxMessageBytes: 1000 },
        { ARDEN_MCP_UPSTREAM_TIMEOUT: '2', ARDEN_MCP_MAX_MESSAGE_BYTES: '1mb' },
      ),
    ).toMatchObject({ mcpUpstreamTimeoutMs: 30_000, mcpMaxMessageBytes: 1000 });
    expect(
      parseServerFlags(['--mcp-upstream-timeout', '60', '--mcp-max-message-bytes', '4mb']),
    ).toEqual({ mcpUpstreamTimeoutSeconds: 60, mcpMaxMessageBytes: '4mb' });
    expect(() => resolveConfig({}, { ARDEN_MCP_UPSTREAM_TIMEOUT: 'soon' })).toThrow(
      /^ARDEN_MCP_UPSTREAM_TIMEOUT must be/,
    );
    expect(() => resolveConfig({}, { ARDEN_MCP_MAX_MESSAGE_BYTES: 'lots' })).toThrow(
      /^ARDEN_MCP_MAX_MESSAGE_BYTES must be a size/,
    );
    expect(() => resolveConfig({ mcpUpstreamTimeoutSeconds: -1 }, {})).toThrow(
      /mcpUpstreamTimeoutSeconds/,
    );
  });

  test('flags', () => {
    expect(
      parseServerFlags([
        '--port',
        '0',
        '--data-dir=./x',
        '--db',
        'file:a.db',
        '--log-level',
        'debug',
      ]),
    ).toEqual({
      port: 0,
      dataDir: './x',
      databaseUrl: 'file:a.db',
      logLevel: 'debug',
    });
    expect(() => parseServerFlags(['--prot', '1'])).toThrow(/Unknown option --prot/);
    expect(() => parseServerFlags(['--port'])).toThrow(/needs a value/);
  });
});

describe('pricing', () => {
  test('the shipped table prices the major providers and dated names', () => {
    const pricing = new Pricing(loadPricing());
    expect(pricing.table.as_of).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(pricing.cost('gpt-4o', 1_000_000, 1_000_000)).toMatchObject({
      costUsd: 12.5,
      rateFound: true,
    });
    expect(pricing.cost('gpt-4o-2024-08-06', 1_000_000, 0).pricedAs).toBe('gpt-4o');
    expect(pricing.cost('claude-3-5-sonnet-20241022', 0, 1_000_000)).toMatchObject({
      costUsd: 15,
      pricedAs: 'claude-3-5-sonnet',
    });
    expect(pricing.cost('models/gemini-2.5-flash', 1_000_000, 0)).toMatchObject({ costUsd: 0.3 });
    expect(pricing.cost('openai/gpt-4.1-mini', 1_000_000, 0).pricedAs).toBe('gpt-4.1-mini');
    expect(pricing.cost('gpt-4o-minimal', 1, 1)).toMatchObject({ costUsd: 0, rateFound: false });
  });

  test('a pricing file overrides and extends; a bad one is refused with the model named', () => {
    const directory = temporaryDirectory();
    const file = join(directory, 'pricing.json');
    writeFileSync(
      file,
      JSON.stringify({
        as_of: '2030-01-01',
        models: { 'gpt-4o': { input: 1, output: 1 }, local: { input: 0, output: 0 } },
      }),
    );
    const pricing = new Pricing(loadPricing(file));
    expect(pricing.cost('gpt-4o', 1_000_000, 0).costUsd).toBe(1);
    expect(pricing.cost('local', 5, 5)).toMatchObject({ costUsd: 0, rateFound: true });
    expect(pricing.cost('gpt-4o-mini', 1_000_000, 0).costUsd).toBe(0.15);
    writeFileSync(file, JSON.stringify({ models: { broken: { input: 'cheap' } } }));
    expect(() => loadPricing(file)).toThrow(/"broken"/);
    expect(() => loadPricing(join(directory, 'missing.json'))).toThrow(
      /Could not read the pricing file/,
    );
  });
});

describe('logger', () => {
  test('secrets are redacted wherever they appear', () => {
    const lines: string[] = [];
    const logger = createLogger('debug', (line) => lines.push(line));
    logger.info('hello', {
      apiKey: 'arden_live_x',
      nested: { signing_key: 's', password: 'p', ok: 1 },
      headers: { 'x-api-key': 'k' },
    });
    const line = JSON.parse(lines[0] as string);
    expect(line).toMatchObject({
      level: 'info',
      message: 'hello',
      apiKey: '[redacted]',
      nested: { signing_key: '[redacted]', password: '[redacted]', ok: 1 },
      headers: { 'x-api-key': '[redacted]' },
    });
    createLogger('warn', (text) => lines.push(text)).info('quiet');
    expect(lines).toHaveLength(1);
  });
});
