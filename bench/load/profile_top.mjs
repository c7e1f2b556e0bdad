// Prints the top functions by self time (and their share) of a V8
// .cpuprofile, as written by `node --cpu-prof` or `deno run --cpu-prof`.
//
// Usage: node profile_top.mjs <file.cpuprofile> [count]
import { readFileSync } from "node:fs";
import process from "node:process";

const profile = JSON.parse(readFileSync(process.argv[2], "utf8"));
const count = Number(process.argv[3] ?? 25);
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
const deltas = profile.timeDeltas;
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  const dt = deltas[i] ?? 0;
  total += dt;
  const frame = node.callFrame;
  const file = frame.url.replace(/^.*\/(src|bench|ext|node:)/, "$1");
  const key = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + dt);
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, count);
console.log(`total ${(total / 1000).toFixed(0)} ms sampled`);
for (const [key, time] of rows) {
  console.log(`${(100 * time / total).toFixed(1).padStart(5)}%  ${key}`);
}
