// deno-lint-ignore-file explicit-module-boundary-types -- plain JS shared with Node; types are in JSDoc
// Shared by the Deno benches (`codec_bench.ts`, `codec_compare.ts`) and the
// Node/Deno `ws` receiver script (`ws_receiver.mjs`), so every parser is fed
// byte-identical frames and timed by the same loop. Plain JavaScript so that
// Node runs it unchanged.

/**
 * The masking key of every masked bench frame. Each byte is below 0x80, so
 * XOR-ing ASCII with it gives ASCII again: a chunk can be fed to a parser
 * over and over (each pass unmasks in place, the next pass "unmasks" the
 * plain text back to the masked bytes), text frames stay valid UTF-8, and
 * every pass does the full unmasking work. No key byte is 0: `ws` skips the
 * XOR for an all-zero key.
 */
export const MASK_KEY = Object.freeze([0x37, 0x7a, 0x21, 0x3d]);

/** The size of one chunk handed to a parser (a typical socket read). */
export const CHUNK_SIZE = 64 * 1024;

/**
 * The header of a final frame (RFC 6455 §5.2): minimal length encoding, then
 * the masking key when one is given (client to server).
 *
 * @param {number} opcode 1 (text), 2 (binary), or 0 (continuation: clear FIN in
 *   byte 0 for a frame before the last).
 * @param {number} payloadLength Payload bytes (below 2^53).
 * @param {ArrayLike<number>} [maskKey] The 4-byte masking key, if masked.
 * @returns {Uint8Array} The header bytes.
 */
export function frameHeader(opcode, payloadLength, maskKey) {
  const lengthBytes = payloadLength < 126 ? 0 : payloadLength < 65536 ? 2 : 8;
  const header = new Uint8Array(2 + lengthBytes + (maskKey ? 4 : 0));
  header[0] = 0x80 | opcode;
  const maskBit = maskKey ? 0x80 : 0;
  if (lengthBytes === 0) header[1] = maskBit | payloadLength;
  else if (lengthBytes === 2) {
    header[1] = maskBit | 126;
    header[2] = payloadLength >>> 8;
    header[3] = payloadLength & 0xff;
  } else {
    header[1] = maskBit | 127;
    const view = new DataView(header.buffer);
    view.setUint32(2, Math.floor(payloadLength / 2 ** 32));
    view.setUint32(6, payloadLength >>> 0);
  }
  if (maskKey) header.set(maskKey, header.length - 4);
  return header;
}

/**
 * Reads how long a frame is from its header (RFC 6455 §5.2), byte by byte
 * through `byteAt` (offsets from the frame's first byte).
 *
 * @param {(offset: number) => number} byteAt The frame's bytes.
 * @param {number} available How many of them have arrived.
 * @returns {{ headerLength: number, payloadLength: number } | number} The
 *   header and payload lengths, or how many bytes must arrive before the
 *   header can be read (more than `available`).
 */
export function frameExtent(byteAt, available) {
  if (available < 2) return 2;
  const b1 = byteAt(1);
  const len7 = b1 & 127;
  const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const headerLength = 2 + extra + (b1 & 128 ? 4 : 0);
  if (available < headerLength) return headerLength;
  let payloadLength = len7;
  if (extra > 0) {
    payloadLength = 0;
    for (let i = 0; i < extra; i++) payloadLength = payloadLength * 256 + byteAt(2 + i);
  }
  return { headerLength, payloadLength };
}

/**
 * Builds one frame with an ASCII payload.
 *
 * @param {number} opcode 1 (text) or 2 (binary).
 * @param {number} payloadLength Payload bytes.
 * @param {boolean} masked Whether to mask with {@link MASK_KEY} (client to server).
 * @returns {Uint8Array} The frame.
 */
export function buildFrame(opcode, payloadLength, masked) {
  const header = frameHeader(opcode, payloadLength, masked ? MASK_KEY : undefined);
  const start = header.length;
  const frame = new Uint8Array(start + payloadLength);
  frame.set(header);
  for (let i = 0; i < payloadLength; i++) {
    const byte = 0x61 + (i % 26);
    frame[start + i] = masked ? byte ^ MASK_KEY[i & 3] : byte;
  }
  return frame;
}

/**
 * Builds one chunk holding as many copies of a frame as fit in
 * {@link CHUNK_SIZE} (at least one).
 *
 * @param {{ opcode: number, payloadLength: number, masked: boolean }} spec The frame.
 * @returns {{ chunk: Uint8Array, frames: number }} The chunk and its frame count.
 */
export function buildChunk(spec) {
  const frame = buildFrame(spec.opcode, spec.payloadLength, spec.masked);
  const frames = Math.max(1, Math.floor(CHUNK_SIZE / frame.length));
  const chunk = new Uint8Array(frame.length * frames);
  for (let i = 0; i < frames; i++) chunk.set(frame, i * frame.length);
  return { chunk, frames };
}

/** Payload sizes of the parse/serialize groups (RFC 6455 §5.2 length-field edges). */
export const PAYLOAD_SIZES = Object.freeze([0, 125, 126, 65535, 65536, 1024 * 1024]);

/**
 * Times `fn` and returns the median nanoseconds per call over several
 * rounds, after a warm-up. The same loop times every parser, in Node and in
 * Deno.
 *
 * @param {() => void} fn The work of one iteration.
 * @param {{ rounds?: number, roundMs?: number, warmupMs?: number }} [options] Timing.
 * @returns {number} Median nanoseconds per call.
 */
export function measure(fn, options = {}) {
  const rounds = options.rounds ?? 7;
  const roundMs = options.roundMs ?? 200;
  const warmupMs = options.warmupMs ?? 300;
  let end = performance.now() + warmupMs;
  while (performance.now() < end) for (let i = 0; i < 8; i++) fn();
  /** @type {number[]} */
  const results = [];
  for (let r = 0; r < rounds; r++) {
    let calls = 0;
    const start = performance.now();
    end = start + roundMs;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 8; i++) fn();
      calls += 8;
      now = performance.now();
    }
    results.push(((now - start) * 1e6) / calls);
  }
  results.sort((a, b) => a - b);
  return results[Math.floor(results.length / 2)];
}

/**
 * Turns a timing into the JSON line printed by the bench scripts.
 *
 * @param {Record<string, string | number | boolean>} labels Who measured what.
 * @param {{ nsPerChunk: number, frames: number, payloadLength: number }} timing One chunk's cost.
 * @returns {Record<string, string | number | boolean>} The result record.
 */
export function result(labels, timing) {
  const framesPerSec = (timing.frames * 1e9) / timing.nsPerChunk;
  return {
    ...labels,
    payload: timing.payloadLength,
    framesPerChunk: timing.frames,
    nsPerChunk: Math.round(timing.nsPerChunk),
    framesPerSec: Math.round(framesPerSec),
    payloadGBps: Number(((framesPerSec * timing.payloadLength) / 1e9).toFixed(3)),
  };
}

/**
 * The parse cases timed by both `codec_compare.ts` (this library) and
 * `ws_receiver.mjs` (the `ws` receiver). "server" parses masked client
 * frames; "client" parses unmasked server frames.
 *
 * @type {ReadonlyArray<{ role: "server" | "client", kind: "text" | "binary", payloadLength: number }>}
 */
export const PARSE_CASES = Object.freeze([
  { role: "server", kind: "text", payloadLength: 32 },
  { role: "server", kind: "binary", payloadLength: 32 },
  { role: "client", kind: "text", payloadLength: 32 },
  { role: "client", kind: "binary", payloadLength: 32 },
  ...PAYLOAD_SIZES.map((payloadLength) => ({
    role: /** @type {const} */ ("server"),
    kind: /** @type {const} */ ("binary"),
    payloadLength,
  })),
  { role: "client", kind: "binary", payloadLength: 125 },
  { role: "client", kind: "binary", payloadLength: 1024 * 1024 },
]);

/**
 * Command-line flags shared by the scripts: `--quick` shortens every timing
 * round (for smoke runs).
 *
 * @param {readonly string[]} args The script's arguments.
 * @returns {{ rounds: number, roundMs: number, warmupMs: number }} Timing options.
 */
export function timingFromArgs(args) {
  return args.includes("--quick")
    ? { rounds: 3, roundMs: 50, warmupMs: 50 }
    : { rounds: 7, roundMs: 200, warmupMs: 300 };
}
