// Set at build time from package.json (the tsup preset defines it; vitest.config.ts does the same
// for the tests that run the source), so the published version is never typed by hand.
declare const __ARDEN_VERSION__: string | undefined;

/** The version of @arden/core, sent in the User-Agent header. */
export const version: string =
  typeof __ARDEN_VERSION__ === 'string' ? __ARDEN_VERSION__ : '0.0.0-development';
