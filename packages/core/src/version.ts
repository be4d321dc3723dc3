/** The version of @arden/core, sent in the User-Agent header. */
export const version = '0.1.0';
