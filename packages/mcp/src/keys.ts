// Shared with the server's Streamable HTTP gateway, so it lives in @arden/core.
export { ambiguousKey, foldKey } from '@arden/core';
