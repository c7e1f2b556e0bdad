/**
 * What separates us from `ws` + `bufferutil` on Node at 64 KiB and 1 MiB?
 * Checks out the commit `ws_gap.patch` was written for, applies the patch
 * (test-only hooks, never shipped), and runs the echo matrix's `node:http`
 * server on Node with each thing `ws` does differently switched on, next to
 * `ws` + `bufferutil` and the unpatched server, interleaved as in
 * `bench:echo`:
 *
 * - `es attr zero-fill off`: receive buffers from `Buffer.allocUnsafeSlow`;
 * - `es attr send copy off`: large frames written as the header and the
 *   caller's bytes (corked into one writev), no snapshot copy;
 * - `es attr C unmask`: unmasking by `bufferutil`'s SIMD C code;
 * - `es attr all three`.
 *
 *   deno run -A bench/experiments/ws_gap.ts [--reps 5] [--duration 3]
 *
 * Writes `bench/results/<date>.ws_gap.{md,json}`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { checkout } from "../load/_worktree.ts";

/** The commit the patch applies to. */
const BASE = "c35a70d";
const ROOT = new URL("../../", import.meta.url).pathname;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "5" },
    duration: { type: "string", default: "3" },
  },
});

const tree = await checkout(BASE, "ws-gap", `${ROOT}bench/experiments/ws_gap.patch`);
const base = `${ROOT}bench/results/${new Date().toISOString().slice(0, 10)}.ws_gap`;
try {
  const servers = [
    "ws+bufferutil",
    "es node:http@node",
    "es attr zero-fill off",
    "es attr send copy off",
    "es attr C unmask",
    "es attr all three",
  ];
  // The patched checkout's run.ts: its servers.ts lists the patched servers.
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${tree.path}bench/load/run.ts`,
      "--servers",
      servers.join(","),
      "--cells",
      "65536x16,65536x256,1048576x1,1048576x16,1048576x256",
      "--reps",
      values.reps,
      "--duration",
      values.duration,
      "--warmup",
      "0.5",
      "--no-memory",
      "--no-save",
      "--json",
      `${base}.json`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`run.ts failed (exit ${out.code})`);
  await Deno.writeFile(`${base}.md`, out.stdout);
  console.log(`${base}.md`);
} finally {
  await tree.remove();
}
