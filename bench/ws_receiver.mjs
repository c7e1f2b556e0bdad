// deno-lint-ignore-file no-console
// Times the `ws` package's own receiver (ws/lib/receiver.js) on the frames
// of `_frames.mjs` and prints one JSON line per case. Runs under Node
// (`node bench/ws_receiver.mjs`) and under Deno (`deno run -A
// bench/ws_receiver.mjs`). ws loads the native `bufferutil` add-on when it is
// installed; `WS_NO_BUFFER_UTIL=1` keeps it to its pure-JS masking.
//
// Receiver#write() goes through node:stream's Writable; the receiver calls
// back synchronously, so every write is parsed at once and every 'message'
// is emitted before write() returns (allowSynchronousEvents defaults to true).

import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Buffer } from "node:buffer";
import process from "node:process";
import { buildChunk, MASK_KEY, measure, PARSE_CASES, result, timingFromArgs } from "./_frames.mjs";

const require = createRequire(import.meta.url);
// ws's "exports" map hides lib/; load its files by path (the same modules
// `require("ws").Receiver` returns).
const wsLib = new URL("lib/", pathToFileURL(require.resolve("ws")));
const Receiver = require(fileURLToPath(new URL("receiver.js", wsLib)));
const bufferUtil = require(fileURLToPath(new URL("buffer-util.js", wsLib)));
const runtime = typeof globalThis.Deno === "object" ? "deno" : "node";
const timing = timingFromArgs(process.argv.slice(2));

let nativeMask = false;
if (!process.env.WS_NO_BUFFER_UTIL) {
  try {
    require("bufferutil");
    nativeMask = true;
  } catch {
    // ws falls back to its JS loop too.
  }
}
const impl = nativeMask ? "ws+bufferutil" : "ws";
const labels = { runtime, impl };

for (const spec of PARSE_CASES) {
  const { chunk, frames } = buildChunk({
    opcode: spec.kind === "text" ? 1 : 2,
    payloadLength: spec.payloadLength,
    masked: spec.role === "server",
  });
  const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  let delivered = 0;
  let bytes = 0;
  const receiver = new Receiver({ isServer: spec.role === "server", maxPayload: 0 });
  receiver.on("message", (data, isBinary) => {
    if (isBinary !== (spec.kind === "binary")) throw new Error("Wrong message type");
    delivered++;
    bytes += data.length;
  });
  receiver.on("error", (error) => {
    throw error;
  });
  // Correctness check outside the timed loop: every frame arrives whole.
  receiver.write(buffer);
  if (delivered !== frames || bytes !== frames * spec.payloadLength) {
    throw new Error(`ws delivered ${delivered} of ${frames} frames`);
  }
  const ns = measure(() => receiver.write(buffer), timing);
  console.log(JSON.stringify(result(
    { ...labels, bench: "parse", role: spec.role, kind: spec.kind },
    { nsPerChunk: ns, frames, payloadLength: spec.payloadLength },
  )));
}

// Bare unmasking of 1 MiB with ws's own unmask (native with bufferutil).
const data = Buffer.alloc(1024 * 1024, 0x61);
const key = Buffer.from(MASK_KEY);
const ns = measure(() => bufferUtil.unmask(data, key), timing);
console.log(JSON.stringify(result(
  { ...labels, bench: "unmask", role: "-", kind: "bytes" },
  { nsPerChunk: ns, frames: 1, payloadLength: data.length },
)));
