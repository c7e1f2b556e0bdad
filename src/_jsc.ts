/**
 * Which JavaScript engine runs this code, where the fast path differs by
 * engine (masking loops, what detaching a buffer costs).
 *
 * @module
 */

/**
 * Whether the engine is JavaScriptCore (Bun) rather than V8 (Node, Deno,
 * Workers). Known from the standard `navigator.userAgent` (Node 20 has no
 * `navigator`: V8).
 */
export const JAVASCRIPTCORE: boolean = /^Bun\//.test(
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? "",
);
