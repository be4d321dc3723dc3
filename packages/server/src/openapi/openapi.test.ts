import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes } from '../admin/routes';
import { type AdminTestServer, startAdminTestServer } from '../admin/test-support';
import { agentApiRoutes, agentApiSchemas } from './agent-api';
import { openApiDocument } from './index';

let t: AdminTestServer;

beforeAll(async () => {
  t = await startAdminTestServer();
});

afterAll(async () => {
  await t.close();
});

function references(value: unknown, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) for (const item of value) references(item, found);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') found.add(item);
      else references(item, found);
    }
  }
  return found;
}

describe('GET /api/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, served without a login', async () => {
    const response = await fetch(`${t.url}/api/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const document = (await response.json()) as Record<string, any>;
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('has a path and operation for every route, with its role and parameters', () => {
    const document = openApiDocument(adminRoutes);
    for (const route of adminRoutes) {
      const path = route.path.replace(/:([a-z_]+)/g, '{$1}');
      const operation = document.paths[path]?.[route.method.toLowerCase()] as Record<string, any>;
      expect(operation, `${route.method} ${route.path}`).toBeDefined();
      expect(operation['x-arden-role']).toBe(route.access);
      const pathParameters = (operation.parameters ?? []).filter((p: any) => p.in === 'path');
      expect(pathParameters.map((p: any) => p.name)).toEqual(
        [...route.path.matchAll(/:([a-z_]+)/g)].map((match) => match[1]),
      );
      if (route.body) expect(operation.requestBody).toBeDefined();
      expect(Object.keys(operation.responses)).toContain(String(route.status ?? 200));
      if (route.access !== 'public') {
        expect(operation.responses['401']).toBeDefined();
        expect(operation.responses['403']).toBeDefined();
      }
    }
    const operations = Object.values(document.paths).flatMap((item) => Object.keys(item));
    expect(operations).toHaveLength(adminRoutes.length + agentApiRoutes.length);
    const check = document.paths['/policy/check']?.post as any;
    expect(check.security).toEqual([{ agentKey: [] }]);
    expect(check.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/CheckRequest',
    });
  });

  it('resolves every $ref to a component, and names the main schemas', () => {
    const document = openApiDocument(adminRoutes);
    for (const reference of references(document)) {
      expect(reference).toMatch(/^#\/components\/schemas\//);
      const name = reference.slice('#/components/schemas/'.length);
      expect(document.components.schemas[name], reference).toBeDefined();
    }
    for (const name of [
      'Agent',
      'Action',
      'ActionDetail',
      'Approval',
      'PolicyVersion',
      'User',
      'Error',
    ]) {
      expect(document.components.schemas[name], name).toBeDefined();
    }
    const login = document.paths['/api/v1/auth/login']?.post as any;
    expect(login.security).toEqual([]);
    const action = document.components.schemas.Action as any;
    expect(action.properties.decision.enum).toEqual(['allow', 'block', 'requires_approval']);
  });
});

describe('the agent API as documented', () => {
  it('answers what the document says', async () => {
    await t.admin('PUT', `/api/v1/agents/${t.agent.id}/policies/live`, {
      body: {
        policies: [
          {
            name: 'refunds',
            tool: 'stripe.issue_refund',
            rules: [{ if: 'args.amount <= 50', then: 'allow' }],
            default: 'requires_approval',
          },
        ],
      },
    });
    const checks = [
      { tool_name: 'stripe.issue_refund', kwargs: { amount: 10 }, metadata: { session_id: 's' } },
      { tool_name: 'stripe.issue_refund', kwargs: { amount: 100 } },
      { tool_name: 'anything.else' },
    ];
    const ids: string[] = [];
    for (const body of checks) {
      expect(agentApiSchemas.checkRequest.safeParse(body).success).toBe(true);
      const response = await t.request('POST', '/policy/check', { body });
      expect(agentApiSchemas.checkResponse.parse(response.json)).toBeDefined();
      ids.push(response.json.action_id);
    }
    const status = await t.request('GET', `/status/${ids[1]}?wait=0`);
    expect(agentApiSchemas.statusResponse.parse(status.json).status).toBe('pending');
    for (const body of [
      { model: 'gpt-4o', prompt_tokens: 10, completion_tokens: 5 },
      { events: [{ model: 'gpt-4o', prompt_tokens: 1, completion_tokens: 1 }] },
    ]) {
      expect(agentApiSchemas.usageRequest.safeParse(body).success).toBe(true);
      const usage = await t.request('POST', '/token-usage', { body });
      expect(agentApiSchemas.usageResponse.safeParse(usage.json).success).toBe(true);
    }
  });
});
