/**
 * A/B of a change: one server of the echo matrix as committed at a git ref
 * (A) against the same server in the working tree (B), in a few cells,
 * alternating A and B run by run so that the machine's drift hits both.
 * On a noisy machine one pair of runs decides nothing (the same server
 * swings ±20% between 3 s runs here); this prints, per cell, the median of
 * each side, the median and range of the per-pair ratios B/A, and in how
 * many pairs B was ahead, for messages/s and for the server's CPU time per
 * echo.
 *
 *   deno task bench:ab --server "es node:http@node" --cells 65536x256
 *     [--ref HEAD] [--pairs 8] [--duration 2] [--warmup 0.5]
 *     [--malloc-trim 268435456] [--fragments 1]
 *
 * `--fragments N` has the load generator send each message as N frames
 * (`loadgen.mjs --fragments`), for changes to reassembly.
 *
 * Both sides and the load generator run with glibc's
 * `MALLOC_TRIM_THRESHOLD_` at `--malloc-trim` bytes (256 MiB by default; `0`
 * leaves glibc's own). With glibc's default, freed heap goes back to the
 * kernel and is faulted in again, and whether a server process falls into
 * that state (5–15 page faults per 64 KiB echo instead of under 1) decides a
 * run by chance (bench/README.md, "What ws + bufferutil does differently").
 *
 * A is checked out with `git worktree` under `bench/out/` (its
 * `node_modules` linked to this one's) and removed afterwards.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { log, runCells } from "./_run_cells.ts";
import { fmtCpu, fmtRatio, median } from "./report.ts";
import { SERVERS } from "./servers.ts";
import { checkout } from "./_worktree.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    server: { type: "string" },
    cells: { type: "string" },
    ref: { type: "string", default: "HEAD" },
    pairs: { type: "string", default: "8" },
    duration: { type: "string", default: "2" },
    warmup: { type: "string", default: "0.5" },
    "malloc-trim": { type: "string", default: String(256 * 1024 * 1024) },
    fragments: { type: "string", default: "1" },
  },
});
if (!values.server || !values.cells) {
  throw new Error('Usage: ab.ts --server "es node:http@node" --cells 65536x256 [--ref HEAD]');
}
const server = values.server;
if (!SERVERS.some((spec) => spec.name === server)) {
  throw new Error(`No server "${server}"; one of: ${SERVERS.map((s) => s.name).join(", ")}`);
}
const pairs = Number(values.pairs);
const trim = values["malloc-trim"];
if (!/^\d+$/.test(trim)) throw new Error(`--malloc-trim: ${trim} is not a byte count`);
const env: Record<string, string> = trim === "0" ? {} : { MALLOC_TRIM_THRESHOLD_: trim };
const fragments = values.fragments;
if (!/^[1-9]\d*$/.test(fragments)) throw new Error(`--fragments: ${fragments} is not a count`);
// The load generator reads it from its environment (run.ts passes this one on).
if (fragments !== "1") env.LOADGEN_FRAGMENTS = fragments;

const worktree = await checkout(values.ref, "ab");
const { sha } = worktree;
const tree = worktree.path;
const started = performance.now();
/** Per cell: [A, B] runs, pair by pair. */
const byCell = new Map<string, { a: number[]; b: number[]; aCpu: number[]; bCpu: number[] }>();
try {
  for (let pair = 0; pair < pairs; pair++) {
    // A first in even pairs, B first in odd ones.
    const order = pair % 2 === 0 ? [tree, undefined] : [undefined, tree];
    for (const side of order) {
      const results = await runCells({
        servers: [server],
        cells: values.cells!.split(","),
        reps: "1",
        duration: values.duration,
        warmup: values.warmup,
        tree: side,
        env,
      });
      for (const run of results.runs) {
        const key = `${run.size}x${run.conns}`;
        const cell = byCell.get(key) ?? { a: [], b: [], aCpu: [], bCpu: [] };
        byCell.set(key, cell);
        const ok = run.errors === 0 ? run.msgPerSec : NaN;
        const cpu = run.errors === 0 ? run.cpuUsPerMsg ?? NaN : NaN;
        if (side) {
          cell.a.push(ok);
          cell.aCpu.push(cpu);
        } else {
          cell.b.push(ok);
          cell.bCpu.push(cpu);
        }
      }
    }
    log(`pair ${pair + 1}/${pairs} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
} finally {
  await worktree.remove();
}

/** The median of the runs that measured something (failed runs are `NaN`); `NaN` if none did. */
const medianOf = (values: number[]): number =>
  median(values.filter((value) => !Number.isNaN(value)));

const orNull = (value: number): number | null => Number.isNaN(value) ? null : value;

/** Median, range and count above 1 of the per-pair ratios B/A. */
function summary(a: number[], b: number[], higherIsBetter: boolean): string {
  const ratios = a.map((x, i) => b[i] / x).filter((r) => Number.isFinite(r));
  if (ratios.length === 0) return "–";
  const ahead = ratios.filter((r) => higherIsBetter ? r > 1 : r < 1).length;
  return `${fmtRatio(medianOf(ratios))} (${fmtRatio(Math.min(...ratios))}–${
    fmtRatio(Math.max(...ratios))
  }), B ahead in ${ahead}/${ratios.length}`;
}

const lines = [
  `# A/B: ${server}, ${sha} (A) vs working tree (B)`,
  "",
  `${pairs} pairs of ${values.duration} s runs after ${values.warmup} s warm-up, alternating. ${
    trim === "0"
      ? "glibc's default heap trimming."
      : `Every process with \`MALLOC_TRIM_THRESHOLD_=${trim}\`.`
  }${fragments === "1" ? "" : ` Each message sent as ${fragments} frames.`}`,
  "",
  "| cell | msg/s A | msg/s B | B/A per pair | CPU µs/echo A | CPU µs/echo B | B/A per pair |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...[...byCell].map(([key, c]) =>
    `| ${key} | ${medianOf(c.a).toFixed(0)} | ${medianOf(c.b).toFixed(0)} | ${
      summary(c.a, c.b, true)
    } | ${fmtCpu(orNull(medianOf(c.aCpu)))} | ${fmtCpu(orNull(medianOf(c.bCpu)))} | ${
      summary(c.aCpu, c.bCpu, false)
    } |`
  ),
  "",
];
console.log(lines.join("\n"));
