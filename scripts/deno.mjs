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
  binary = join(
    dirname(require.resolve(`${name}/package.json`)),
    process.platform === "win32" ? "deno.exe" : "deno",
  );
} catch {
  // package.json pins only the linux-x64 build (what CI runs); elsewhere use a Deno
  // on PATH, or add your platform's package: npm install -D @deno/<platform>@2.9.6
  const found = spawnSync("deno", ["--version"], { stdio: "ignore" });
  if (found.status !== 0) {
    console.error(
      `Deno for this platform (${name}) is not installed: run \`npm install\`, ` +
        `\`npm install -D ${name}@2.9.6\`, or install Deno (https://deno.com).`,
    );
    process.exit(1);
  }
  binary = "deno";
}
const result = spawnSync(binary, process.argv.slice(2), { stdio: "inherit" });
if (result.error) {
  console.error(result.error.message);
  process.exit(1);
}
process.exit(result.status ?? 1);
