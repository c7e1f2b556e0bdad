/**
 * Per-pair ratios of two servers in a `run.ts --json` results file: for each
 * cell, server B over server A in every repetition (the two ran back to
 * back, in rotating order), as a geometric mean with a 95% interval and the
 * range, for messages/s and CPU time per echo. Eight pairs tell a 5% gap
 * from noise where the medians of three runs cannot.
 *
 *   deno task bench:pairs <results.json> "<server A>" "<server B>"
 *
 * e.g. after `run.ts --servers "deno native,es Deno.serve" --reps 8 --json out.json`.
 *
 * @module
 */

import { fmtRatio, interval, pairedRuns, type Results } from "./report.ts";

const [file, nameA, nameB] = Deno.args;
if (!file || !nameA || !nameB) {
  console.error('usage: pairs.ts <results.json> "<server A>" "<server B>"');
  Deno.exit(2);
}
const { runs }: Results = JSON.parse(await Deno.readTextFile(file));

function summary(ratios: number[]): string {
  const found = interval(ratios);
  if (found === undefined) return ratios.length === 1 ? `${fmtRatio(ratios[0])} (1 pair)` : "–";
  return `${fmtRatio(found.mean)} [${fmtRatio(found.low)}–${fmtRatio(found.high)}] (${found.n} ` +
    `pairs, ${fmtRatio(Math.min(...ratios))}–${fmtRatio(Math.max(...ratios))})`;
}

console.log(`${nameB} / ${nameA}, ${file}`);
for (const [key, pairs] of pairedRuns(runs, nameA, nameB)) {
  const [size, conns] = key.split("|");
  const rate = pairs.map(({ a, b }) => b.msgPerSec / a.msgPerSec);
  const cpu = pairs.filter(({ a, b }) => a.cpuUsPerMsg && b.cpuUsPerMsg)
    .map(({ a, b }) => b.cpuUsPerMsg! / a.cpuUsPerMsg!);
  console.log(
    `${`${size} B × ${conns}`.padEnd(16)} msg/s ${summary(rate)}   CPU/echo ${summary(cpu)}`,
  );
}
