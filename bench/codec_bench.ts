/**
 * Codec benchmarks: parsing and serializing frames with `WebSocketEngine`,
 * for both roles, at the payload sizes where the RFC 6455 §5.2 length field
 * changes (0, 125 | 126, 65535 | 65536) plus 1 MiB, and many 32-byte frames
 * per chunk (text and binary apart).
 *
 * Parsing: each iteration feeds one pre-built chunk (as many frames as fit in
 * 64 KiB, at least one) to a long-lived engine and counts the deliveries.
 * `receive` unmasks in place, so the next iteration XORs the payload back:
 * the masking key's bytes are below 0x80 and the payload is ASCII, so every
 * pass does the full unmasking work and text stays valid UTF-8. The
 * baseline of each parse group is the `ws` package's receiver (ws@8 from node_modules,
 * run in Deno, with bufferutil when it loads) fed the same chunk the same
 * way; `deno task bench:codec` also times it under Node.
 *
 * Serializing: each iteration queues the same number of frames with
 * `sendBinary` and takes the output once (the engine coalesces small frames);
 * the baseline encodes them one by one with the pure `encodeFrame`. Clients
 * draw a fresh random masking key per frame (RFC 6455 §5.3), as they must.
 *
 * Run: `deno bench -A bench/codec_bench.ts`.
 *
 * @module
 */

import { encodeFrame, Opcode, WebSocketEngine } from "@edgesocket/core";
import * as ws from "ws";
import { Buffer } from "node:buffer";
import { buildChunk, CHUNK_SIZE, PAYLOAD_SIZES } from "./_frames.mjs";

/** The part of ws's (untyped) `Receiver` the benches use. */
interface WsReceiver {
  write(chunk: Uint8Array): boolean;
  on(event: string, listener: (...args: never[]) => void): unknown;
}
const { Receiver } = ws as unknown as {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => WsReceiver;
};

type Role = "server" | "client";

function parseBenches(role: Role, kind: "text" | "binary", payloadLength: number): void {
  const { chunk, frames } = buildChunk({
    opcode: kind === "text" ? Opcode.Text : Opcode.Binary,
    payloadLength,
    masked: role === "server",
  });
  let delivered = 0;
  const engine = new WebSocketEngine({ role, maxFrameSize: 2 ** 21 }, {
    text: () => delivered++,
    binary: () => delivered++,
    error: (error) => {
      throw error;
    },
    close: () => {
      throw new Error("Unexpected close");
    },
  });
  const receiver = new Receiver({ isServer: role === "server", maxPayload: 0 });
  receiver.on("message", () => delivered++);
  receiver.on("error", (error: Error) => {
    throw error;
  });
  const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  const group = `parse ${role} ${kind} ${payloadLength} B`;
  const label = `${role} ${kind} ${payloadLength} B ×${frames}`;
  const check = (): void => {
    if (delivered !== frames) throw new Error(`Delivered ${delivered} of ${frames} frames`);
    delivered = 0;
  };
  Deno.bench({ name: `ws Receiver ${label}`, group, baseline: true }, () => {
    receiver.write(buffer);
    check();
  });
  Deno.bench({ name: `engine ${label}`, group }, () => {
    engine.receive(chunk);
    check();
  });
}

function serializeBenches(role: Role, payloadLength: number): void {
  const payload = new Uint8Array(payloadLength).fill(0x61);
  const masked = role === "client";
  const frameLength = payloadLength + (payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10) +
    (masked ? 4 : 0);
  const frames = Math.max(1, Math.floor(CHUNK_SIZE / frameLength));
  const engine = new WebSocketEngine({ role }, { text() {}, binary() {}, close() {} });
  const key = new Uint8Array(4);
  const group = `serialize ${role} binary ${payloadLength} B`;
  const label = `${role} binary ${payloadLength} B ×${frames}`;
  Deno.bench({ name: `encodeFrame ${label}`, group, baseline: true }, () => {
    for (let i = 0; i < frames; i++) {
      if (masked) crypto.getRandomValues(key);
      encodeFrame(Opcode.Binary, payload, masked ? { mask: key } : {});
    }
  });
  Deno.bench({ name: `engine ${label}`, group }, () => {
    for (let i = 0; i < frames; i++) engine.sendBinary(payload);
    let size = 0;
    for (const part of engine.takeOutput()) size += part.length;
    if (size !== frames * frameLength) throw new Error(`Wrong output size: ${size}`);
  });
}

for (const role of ["server", "client"] as const) {
  parseBenches(role, "text", 32);
  parseBenches(role, "binary", 32);
  for (const size of PAYLOAD_SIZES) parseBenches(role, "binary", size);
}
for (const role of ["server", "client"] as const) {
  for (const size of PAYLOAD_SIZES) serializeBenches(role, size);
}
