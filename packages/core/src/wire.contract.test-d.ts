import type { Schemas } from '@arden/contract';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  ActionStatus,
  CheckRequestBody,
  CheckResponseBody,
  Decision,
  McpToolsReportAnswer,
  McpToolsReportBody,
  ModelCallCheckBody,
  ModelCallCheckResponseBody,
  ResultReportBody,
  StatusResponseBody,
  UsageEventBody,
} from './wire';

// Core stays dependency-free, so its wire types are written here by hand; this type test holds
// them to the server's contract (@arden/contract, generated from the server's zod schemas). A
// change on either side that breaks the agent API fails `pnpm --filter @arden/core test`.

describe("core's wire types against the server's contract", () => {
  it('knows exactly the decisions the server sends', () => {
    expectTypeOf<Decision>().toEqualTypeOf<Schemas['CheckResponse']['decision']>();
    expectTypeOf<Decision>().toEqualTypeOf<Schemas['Action']['decision']>();
  });

  it('sends what the server accepts', () => {
    expectTypeOf<CheckRequestBody>().toExtend<Schemas['CheckRequest']>();
    expectTypeOf<UsageEventBody>().toExtend<Schemas['UsageRequest']>();
    expectTypeOf<{ events: UsageEventBody[] }>().toExtend<Schemas['UsageRequest']>();
    expectTypeOf<ResultReportBody>().toExtend<Schemas['ResultRequest']>();
    expectTypeOf<McpToolsReportBody>().toExtend<Schemas['McpToolsReport']>();
    expectTypeOf<ModelCallCheckBody>().toExtend<Schemas['ModelCallCheckRequest']>();
  });

  it('reads what the server answers', () => {
    expectTypeOf<Schemas['CheckResponse']>().toExtend<CheckResponseBody>();
    expectTypeOf<Schemas['StatusResponse']>().toExtend<StatusResponseBody>();
    expectTypeOf<Schemas['ModelCallCheckResponse']>().toExtend<ModelCallCheckResponseBody>();
    expectTypeOf<Schemas['StatusResponse']['status']>().toEqualTypeOf<ActionStatus>();
    expectTypeOf<Schemas['McpToolsReportAnswer']>().toExtend<McpToolsReportAnswer>();
  });
});
