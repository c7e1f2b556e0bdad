/**
 * Reproduces, without a network, the garbage-collection regime that makes a
 * 64 KiB echo cost more CPU on Deno than on Node (bench/README.md, "Deno:
 * after one full GC, a mark-compact every few hundred 64 KiB messages").
 * `engine`: a pooled server engine is fed 64 KiB masked frames, each as a
 * fresh 64 KiB chunk plus a 14-byte one (as a transport hands them over),
 * and echoes every message. `plain`: only the same allocations and copy.
 * `plain-gc`: `plain` with one full `gc()` after 1,000 messages.
 *
 *   deno run --v8-flags=--trace-gc,--expose-gc bench/experiments/deno_gc_regime.ts \
 *     [engine|plain|plain-gc] [count]
 *
 * Count the lines: `grep -c Mark-Compact`, `grep -c "external memory pressure"`.
 * A run either frees the buffers with young-generation collections for
 * "external memory pressure" and has no mark-compact, or has a mark-compact
 * every few hundred messages, started by the global limit. On 2026-11-24:
 * `plain` 0 mark-compacts in 2 of 2 runs, `plain-gc` 20–22 in 3 of 3,
 * `engine` 7–25 in 8 of 9.
 *
 * @module
 */

import { releaseOutput, WebSocketEngine } from "../../mod.ts";
import { buildFrame } from "../_frames.mjs";

const SIZE = 65536;
const mode = Deno.args[0] ?? "engine";
const count = Number(Deno.args[1] ?? 40000);

// One masked client frame (binary, 64-bit length), split after 64 KiB.
const frame = buildFrame(2, SIZE, true);
const headerLength = frame.length - SIZE;
const split = SIZE;

const engine = new WebSocketEngine({ role: "server" }, {
  text: () => {},
  binary: (data) => engine.sendBinary(data),
  close: () => {},
});
engine.poolOutput();

const start = performance.now();
let kept = 0;
for (let i = 0; i < count; i++) {
  const first = new Uint8Array(split);
  first.set(frame.subarray(0, split));
  const rest = new Uint8Array(frame.length - split);
  rest.set(frame.subarray(split));
  if (mode === "engine") {
    engine.receive(first);
    engine.receive(rest);
    for (const out of engine.takeOutput()) {
      kept += out.length;
      releaseOutput(out);
    }
  } else {
    // `plain-gc`: one full collection early on, as any long-lived process has.
    if (i === 1000 && mode === "plain-gc") (globalThis as { gc?: () => void }).gc?.();
    const message = new Uint8Array(SIZE);
    message.set(first.subarray(headerLength));
    message.set(rest, split - headerLength);
    kept += message.length;
  }
}
const micros = (performance.now() - start) * 1000 / count;
console.error(`${mode}: ${count} messages, ${micros.toFixed(1)} µs each, ${kept} bytes out`);
