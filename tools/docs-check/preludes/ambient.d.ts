// Modules of the reader's own app that snippets import (for every block).
// A Next.js path alias: the module that calls configure() and guards the tools.
declare module '@/lib/arden' {}
