// Shared with the server's Streamable HTTP gateway, so it lives in @arden/core.
export { type ReportedCall, reportToolOutcome } from '@arden/core';
