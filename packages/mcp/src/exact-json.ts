// Shared with the server's Streamable HTTP gateway, so it lives in @arden/core.
export { InexactNumberError, parseExactJson, sourceTextAccess } from '@arden/core';
