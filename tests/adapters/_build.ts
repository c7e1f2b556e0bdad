/**
 * Node 20 cannot run TypeScript, so scripts that Node runs are bundled to
 * JavaScript first with `deno bundle` (Deno ≥ 2.4; it fetches esbuild from
 * npm once and caches it). Output goes to `tests/adapters/.build/`, which
 * ignores itself (`.build/.gitignore` is `*`). Bun and Deno run the `.ts`
 * sources directly.
 *
 * @module
 */

import { REPO_ROOT } from "../_peers/tools.ts";

/** Where bundles go. */
export const BUILD_DIR: string = `${REPO_ROOT}/tests/adapters/.build`;

const built = new Map<string, Promise<string>>();

/**
 * Bundles a TypeScript entry point (and everything it imports, `node:`
 * modules left external) to one ES module, once per test process.
 *
 * @param entry Path of the entry point, relative to the repository root.
 * @returns The absolute path of the `.mjs` bundle.
 * @throws {Error} If `deno bundle` fails, with its output.
 */
export function bundleForNode(entry: string): Promise<string> {
  let promise = built.get(entry);
  if (promise === undefined) {
    promise = build(entry);
    built.set(entry, promise);
  }
  return promise;
}

async function build(entry: string): Promise<string> {
  await Deno.mkdir(BUILD_DIR, { recursive: true });
  await Deno.writeTextFile(`${BUILD_DIR}/.gitignore`, "*\n");
  const name = entry.split("/").at(-1)!.replace(/^_/, "").replace(/\.ts$/, ".mjs");
  const output = `${BUILD_DIR}/${name}`;
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", output, entry],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    const decoder = new TextDecoder();
    throw new Error(
      `deno bundle ${entry} failed:\n${decoder.decode(result.stdout)}${
        decoder.decode(result.stderr)
      }`,
    );
  }
  return output;
}
