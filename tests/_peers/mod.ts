/**
 * Real peers for interop tests: tool detection, child processes, scripted
 * servers and clients on python-websockets, `ws`, Deno and Bun, and Chromium.
 *
 * `browser.ts` is not re-exported here, so tests that do not need Chromium do
 * not load Playwright; import it directly.
 *
 * @module
 */

export * from "./tools.ts";
export * from "./process.ts";
export * from "./messages.ts";
export * from "./peers.ts";
