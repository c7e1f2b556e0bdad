/**
 * The echo benchmark's target rules: which cells count as missed (what
 * `deno task bench:recheck` measures again) and the verdicts of the Targets
 * table, on a small hand-made results file.
 */

import assert from "node:assert/strict";
import { misses, type Results, type Run, verdicts } from "../../bench/load/report.ts";

function run(server: string, size: number, conns: number, msgPerSec: number): Run {
  return {
    server,
    size,
    conns,
    inflight: 1,
    rep: 0,
    msgPerSec,
    mbPerSec: 0,
    p50Us: null,
    p99Us: null,
    errors: 0,
  };
}

const SMALL = 1024;
const LARGE = 65536;

const results: Results = {
  date: "2026-11-24",
  machine: {},
  settings: {},
  servers: [
    { name: "ws", runtime: "node", kind: "peer" },
    { name: "ws+bufferutil", runtime: "node", kind: "peer" },
    { name: "deno native", runtime: "deno", kind: "native" },
    { name: "bun native", runtime: "bun", kind: "native" },
    { name: "es deno", runtime: "deno", kind: "codec" },
    { name: "es node", runtime: "node", kind: "codec" },
    { name: "es bun", runtime: "bun", kind: "native-backed", wraps: "bun native" },
  ],
  runs: [
    run("ws", SMALL, 1, 100),
    run("ws", LARGE, 1, 100),
    run("ws+bufferutil", SMALL, 1, 200),
    run("ws+bufferutil", LARGE, 1, 200),
    run("deno native", SMALL, 1, 100),
    run("deno native", LARGE, 1, 100),
    run("bun native", SMALL, 1, 100),
    run("bun native", LARGE, 1, 100),
    // 1 KiB: 1.5× ws, 0.75× ws+bufferutil (no target there); 64 KiB: under all three.
    run("es deno", SMALL, 1, 150),
    run("es deno", LARGE, 1, 84),
    // Above ws, under ws+bufferutil at 64 KiB; no Deno-native target on Node.
    run("es node", SMALL, 1, 120),
    run("es node", LARGE, 1, 190),
    // Exactly at 0.95× of the server it wraps is met; 0.94× is not.
    run("es bun", SMALL, 1, 95),
    run("es bun", LARGE, 1, 94),
  ],
  memory: [],
  elapsedSeconds: 0,
};

Deno.test("misses: every cell under its target, with the rule and the ratio", () => {
  const found = misses(results).map((miss) =>
    `${miss.server} ${miss.rule.reference} ${miss.size}x${miss.conns} ${miss.ratio.toFixed(2)}`
  );
  assert.deepEqual(found, [
    "es deno ws 65536x1 0.84",
    "es deno ws+bufferutil 65536x1 0.42",
    "es deno deno native 65536x1 0.84",
    "es node ws+bufferutil 65536x1 0.95",
    "es bun bun native 65536x1 0.94",
  ]);
});

Deno.test("verdicts: the worst cell of each target, met or missed", () => {
  const table = new Map(verdicts(results).map((v) => [v.target, `${v.pass} ${v.detail}`]));
  assert.equal(table.get("es deno: ≥ 1.0× ws in every cell"), "false worst 0.840× (64 KiB × 1)");
  assert.equal(table.get("es node: ≥ 1.0× ws in every cell"), "true worst 1.200× (1 KiB × 1)");
  assert.equal(
    table.get("es deno: ≥ 0.9× Deno native in every cell"),
    "false worst 0.840× (64 KiB × 1)",
  );
  assert.equal(table.has("es node: ≥ 0.9× Deno native in every cell"), false);
  assert.equal(
    table.get("es bun: ≥ 0.95× the native server it wraps"),
    "false worst 0.940× (64 KiB × 1)",
  );
});
