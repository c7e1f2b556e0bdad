/**
 * Measures every missed target of an echo matrix again, in longer cells.
 * The matrix's 0.6 s cells swing ±30% on a noisy 2-core machine, too much to
 * decide a 5% or 10% target; this runs each server that missed a target
 * with only the servers it is compared with, in its missed cells, for
 * `--duration` seconds per run (3 by default), interleaved and repeated.
 * Writes `<results>.recheck.{json,md}` beside the results file and prints
 * the Markdown.
 *
 *   deno task bench:recheck [--results bench/results/<date>.json]
 *     [--duration 3] [--warmup 0.5] [--reps 3] [--variant reuse]
 *
 * Without `--results`, the newest results file in `bench/results/`.
 *
 * `--variant NAME` measures an opt-in variant (`es … NAME` in `servers.ts`) in
 * place of each server that has one, in the cells the last recheck
 * (`<results>.recheck.json`) still found missed, with the server itself in the
 * same run for comparison; it writes `<results>.recheck_NAME.{json,md}`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { log, runCells } from "./_run_cells.ts";
import { SERVERS } from "./servers.ts";
import {
  fmtCpu,
  fmtRatio,
  fmtSize,
  type Interval,
  interval,
  medians,
  type Miss,
  misses,
  pairedRuns,
  type Results,
} from "./report.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    results: { type: "string" },
    duration: { type: "string", default: "3" },
    warmup: { type: "string", default: "0.5" },
    reps: { type: "string", default: "3" },
    variant: { type: "string" },
  },
});

/** The newest `bench/results/<date>.json`. */
function newestResults(): string {
  const names = [...Deno.readDirSync(`${ROOT}bench/results`)]
    .map((entry) => entry.name)
    .filter((name) => /^\d{4}-\d{2}-\d{2}\.json$/.test(name))
    .sort();
  if (names.length === 0) throw new Error("No results file in bench/results: run bench:echo");
  return `${ROOT}bench/results/${names.at(-1)}`;
}

/** A path relative to the repository, for the report. */
function rel(path: string): string {
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
}

/** One miss, measured again. */
interface Rechecked extends Miss {
  /** The ratio of medians in the longer cells. */
  recheck: number | undefined;
  /** The lowest and highest ratio of one repetition's pair of runs. */
  low: number | undefined;
  high: number | undefined;
  /** Those per-pair ratios' geometric mean and 95% interval (two pairs or more). */
  pairs?: Interval;
  /** Server CPU time per echo (medians, µs): this server's and the reference's. */
  cpu: number | null;
  referenceCpu: number | null;
  /** With `--variant`: the variant measured, and its ratio to the server it varies. */
  variant?: string;
  toServer?: number;
}

const path = values.results ?? newestResults();
const base = path.replace(/\.json$/, "");
/** One miss's identity across result files: server, target, cell. */
const missKey = (m: Miss): string => `${m.server}|${m.rule.target}|${m.size}|${m.conns}`;
const results: Results = JSON.parse(await Deno.readTextFile(path));
let missed = misses(results);
log(`${missed.length} missed cells in ${path}`);
const variant = values.variant;
/** The variant of a server, if it has one. */
const variantOf = (server: string): string | undefined =>
  SERVERS.some((spec) => spec.name === `${server} ${variant}`) ? `${server} ${variant}` : undefined;
if (variant !== undefined) {
  // Only what the last recheck did not find met, and only servers with the variant.
  const last: Rechecked[] = JSON.parse(await Deno.readTextFile(`${base}.recheck.json`));
  const stillMissed = new Set(
    last.filter((r) => r.recheck === undefined || r.recheck < r.rule.threshold).map(missKey),
  );
  missed = missed.filter((miss) =>
    variantOf(miss.server) !== undefined && stillMissed.has(missKey(miss))
  );
  log(`${missed.length} of them still missed in ${base}.recheck.json, with a ${variant} variant`);
}

// One run per server: the server, every server it is compared with, its missed cells.
const byServer = Map.groupBy(missed, (miss) => miss.server);
const rechecked: Rechecked[] = [];
const started = performance.now();
for (const [server, its] of byServer) {
  const references = [...new Set(its.map((miss) => miss.rule.reference))];
  const cells = [...new Set(its.map((miss) => `${miss.size}x${miss.conns}`))];
  // With a variant, it is measured in the server's place and the server beside it.
  const measured = variant === undefined ? server : variantOf(server)!;
  const others = variant === undefined ? references : [server, ...references];
  log(`${measured} against ${others.join(", ")}: ${cells.join(", ")}`);
  const again = await runCells({
    servers: [measured, ...others],
    cells,
    reps: values.reps,
    duration: values.duration,
    warmup: values.warmup,
    progress: true,
  });
  const cellsAgain = medians(again);
  // Each repetition ran the servers back to back: a pair's ratio is one sample.
  const pairedWith = new Map(
    references.map((ref) => [ref, pairedRuns(again.runs, ref, measured)]),
  );
  for (const miss of its) {
    const cellOf = (name: string) => cellsAgain.get(`${name}|${miss.size}|${miss.conns}`);
    const value = cellOf(measured)?.msgPerSec || undefined;
    const plain = cellOf(server)?.msgPerSec || undefined;
    const reference = cellOf(miss.rule.reference)?.msgPerSec || undefined;
    const pairs = (pairedWith.get(miss.rule.reference)!.get(`${miss.size}|${miss.conns}`) ?? [])
      .filter(({ a }) => a.msgPerSec > 0)
      .map(({ a, b }) => b.msgPerSec / a.msgPerSec);
    rechecked.push({
      ...miss,
      recheck: value !== undefined && reference !== undefined ? value / reference : undefined,
      low: pairs.length ? Math.min(...pairs) : undefined,
      high: pairs.length ? Math.max(...pairs) : undefined,
      pairs: interval(pairs),
      cpu: cellOf(measured)?.cpuUsPerMsg ?? null,
      referenceCpu: cellOf(miss.rule.reference)?.cpuUsPerMsg ?? null,
      ...variant === undefined ? {} : {
        variant: measured,
        toServer: value !== undefined && plain !== undefined ? value / plain : undefined,
      },
    });
  }
}

function fmtInterval(pairs: Interval | undefined): string {
  return pairs === undefined
    ? "–"
    : `${fmtRatio(pairs.mean)} [${fmtRatio(pairs.low)}–${fmtRatio(pairs.high)}]`;
}

/** Met or missed by the ratio of medians; a miss says whether the pairs' interval clears noise. */
function verdict(r: Rechecked): string {
  if (r.recheck === undefined) return "not measured";
  if (r.recheck >= r.rule.threshold) return "met";
  if (r.pairs === undefined) return "**missed**";
  return r.pairs.high < r.rule.threshold ? "**missed**, beyond noise" : "**missed**, within noise";
}

const variantNote = variant === undefined
  ? ""
  : ` This run measured each server's \`${variant}\` ` +
    `variant (\`bench/load/servers.ts\`) in its place, in the cells the last recheck ` +
    `(\`${rel(base)}.recheck.md\`) did not find met, with the server itself in the same run: ` +
    `"× server" is the variant's messages/s over the server's.`;
const columns = [
  "server",
  "target",
  "cell",
  "matrix",
  "again",
  "runs",
  "pairs",
  "CPU",
  ...variant === undefined ? [] : ["× server"],
  "",
];
const lines = [
  `# Missed targets measured again, ${new Date().toISOString().slice(0, 10)}` +
  (variant === undefined ? "" : `, \`${variant}\` variants`),
  "",
  `Matrix: \`${rel(path)}\` (${results.settings.duration} s cells). ` +
  `Here each missed cell ran again with only the servers compared: ${values.duration} s ` +
  `after ${values.warmup} s warm-up, ${values.reps} repetition(s) interleaved (heavy cells, ` +
  `size × connections ≥ 256 MiB, twice that). Ratio of medians, and the range of ` +
  `the ratios of single back-to-back runs; "pairs": their geometric mean and its 95% interval, ` +
  `and whether that interval lies below the target (a miss beyond this run's noise) or reaches ` +
  `it (within noise: more repetitions would decide). CPU: the server process's user + system time per ` +
  `echo in µs (medians), this server's and the reference's. Took ${
    ((performance.now() - started) / 1000).toFixed(0)
  } s.${variantNote}`,
  "",
  "|" + columns.map((column) => column === "" ? " |" : ` ${column} |`).join(""),
  `|${" --- |".repeat(columns.length)}`,
  ...rechecked.map((r) =>
    `| ${r.variant ?? r.server} | ${r.rule.target} | ${fmtSize(r.size)} × ${r.conns} | ${
      fmtRatio(r.ratio)
    } | ${fmtRatio(r.recheck)} | ${fmtRatio(r.low)}–${fmtRatio(r.high)} | ${
      fmtInterval(r.pairs)
    } | ${fmtCpu(r.cpu)} / ${fmtCpu(r.referenceCpu)} | ${
      variant === undefined ? "" : `${fmtRatio(r.toServer)} | `
    }${verdict(r)} |`
  ),
  "",
];
const markdown = lines.join("\n");
console.log(markdown);
const out = `${base}.recheck${variant === undefined ? "" : `_${variant}`}`;
await Deno.writeTextFile(`${out}.json`, JSON.stringify(rechecked, null, 1) + "\n");
await Deno.writeTextFile(`${out}.md`, markdown);
log(`wrote ${out}.{json,md}`);
