// Per-pair ratios of two servers in a run.ts results file: for each cell,
// server B over server A in every repetition (the two ran back to back, in
// rotating order), as a geometric mean with a 95% interval (Student's t on
// the log ratios) and the range, for messages/s and CPU time per echo.
// Eight pairs tell a 5% gap from noise where three medians cannot.
//
// Usage: node bench/load/pairs.mjs <results.json> "<server A>" "<server B>"
//   e.g. after run.ts --servers "deno native,es Deno.serve" --reps 8 --json out.json
import { readFileSync } from "node:fs";
import process from "node:process";

const [file, nameA, nameB] = process.argv.slice(2);
if (!file || !nameA || !nameB) {
  console.error('usage: node pairs.mjs <results.json> "<server A>" "<server B>"');
  process.exit(2);
}
const { runs } = JSON.parse(readFileSync(file, "utf8"));

/** cell -> repetition -> { a, b } */
const cells = new Map();
for (const run of runs) {
  if (run.errors || (run.server !== nameA && run.server !== nameB)) continue;
  const key = `${run.size} B × ${run.conns}`;
  const reps = cells.get(key) ?? new Map();
  cells.set(key, reps);
  const pair = reps.get(run.rep) ?? {};
  reps.set(run.rep, pair);
  pair[run.server === nameA ? "a" : "b"] = run;
}

// Two-sided 95% quantiles of Student's t by degrees of freedom.
const T95 = [NaN, 12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.2, 2.18, 2.16];

function summary(ratios) {
  const n = ratios.length;
  if (n < 2) return n === 1 ? `${ratios[0].toFixed(3)}× (1 pair)` : "–";
  const logs = ratios.map(Math.log);
  const mean = logs.reduce((sum, x) => sum + x, 0) / n;
  const sd = Math.sqrt(logs.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (n - 1));
  const half = (T95[n - 1] ?? 2.1) * sd / Math.sqrt(n);
  const f = (x) => Math.exp(x).toFixed(3);
  const low = Math.min(...ratios).toFixed(2), high = Math.max(...ratios).toFixed(2);
  return `${f(mean)}× [${f(mean - half)}–${f(mean + half)}] (${n} pairs, ${low}–${high})`;
}

console.log(`${nameB} / ${nameA}, ${file}`);
for (const [key, reps] of cells) {
  const pairs = [...reps.values()].filter((pair) => pair.a && pair.b);
  const rate = pairs.map((pair) => pair.b.msgPerSec / pair.a.msgPerSec);
  const cpu = pairs.filter((pair) => pair.a.cpuUsPerMsg && pair.b.cpuUsPerMsg)
    .map((pair) => pair.b.cpuUsPerMsg / pair.a.cpuUsPerMsg);
  console.log(`${key.padEnd(16)} msg/s ${summary(rate)}   CPU/echo ${summary(cpu)}`);
}
