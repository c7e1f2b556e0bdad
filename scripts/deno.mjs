#!/usr/bin/env node
// Runs the Deno binary that npm installed (the platform package @deno/<os>-<arch>),
// so `npm test` and `npm run demo` work on a machine with only Node and npm.
//
// Deno comes from its platform packages rather than the `deno` package on purpose:
// the `deno` package links node_modules/.bin/deno, and `deno task` then runs that
// link as a JavaScript file instead of itself (denoland/deno#27114), breaking every
// task that calls `deno`.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";

const require = createRequire(import.meta.url);
const libc = process.platform === "linux"
  ? (process.report?.getReport()?.header?.glibcVersionRuntime ? "-glibc" : "-musl")
  : "";
const name = `@deno/${process.platform}-${process.arch}${libc}`;
let binary;
try {
  binary = join(dirname(require.resolve(`${name}/package.json`)), process.platform === "win32" ? "deno.exe" : "deno");
} catch {
  console.error(`Deno for this platform (${name}) is not installed: run \`npm install\` first.`);
  process.exit(1);
}
const result = spawnSync(binary, process.argv.slice(2), { stdio: "inherit" });
if (result.error) {
  console.error(result.error.message);
  process.exit(1);
}
process.exit(result.status ?? 1);
