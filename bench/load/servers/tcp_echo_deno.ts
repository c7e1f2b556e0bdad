/**
 * Bare TCP echo on `Deno.listen`: answers the upgrade request with a bare
 * 101, then writes every byte back as it came, unparsed, reading into one
 * buffer per connection with `conn.read` and writing with `conn.write` (the
 * calls the codec-backed `listen` adapter makes). No WebSocket work: the
 * transport ceiling for the echo matrix (the load generator runs with
 * `--expect same`). Prints `LISTENING <port>`.
 *
 * With `ECHO_GATHER=1` it holds each frame until the whole frame has
 * arrived, then writes it back in one `conn.write` (no copy, no unmasking):
 * the ceiling for a server that must hold a whole message before answering
 * it, as every WebSocket server must. It reads as the codec-backed `listen`
 * adapter does after a large frame, the next header alone and then the
 * payload straight into place, but into one buffer per connection that grows
 * to the largest frame, where the adapter allocates each message.
 *
 * @module
 */

import { frameExtent } from "../../_frames.mjs";

const SWITCHING = new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\n\r\n");
const GATHER = Deno.env.get("ECHO_GATHER") === "1";
/** The longest frame header: 2 bytes, an 8-byte length, a 4-byte masking key (RFC 6455 §5.2). */
const MAX_HEADER = 14;

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

/** Index just past the first CRLFCRLF in `bytes[0..length)`, or -1. */
function headEnd(bytes: Uint8Array, length: number): number {
  for (let i = 3; i < length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      return i + 1;
    }
  }
  return -1;
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buffer = new Uint8Array(64 * 1024);
  let filled = 0;
  for (;;) {
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) return;
    filled += n;
    const end = headEnd(buffer, filled);
    if (end !== -1) {
      await writeAll(conn, SWITCHING);
      // Frame bytes that came with the request.
      buffer.copyWithin(0, end, filled);
      filled -= end;
      break;
    }
    if (filled === buffer.length) return;
  }
  if (GATHER) await gather(conn, buffer, filled);
  else {
    if (filled > 0) await writeAll(conn, buffer.subarray(0, filled));
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return;
      await writeAll(conn, buffer.subarray(0, n));
    }
  }
}

/**
 * Echoes whole frames: reads a header (at most {@linkcode MAX_HEADER} bytes
 * at once), then exactly the rest of its frame, then writes the frame back.
 * `buffer` starts with `filled` bytes already read.
 */
async function gather(conn: Deno.Conn, buffer: Uint8Array, filled: number): Promise<void> {
  for (;;) {
    let extent = frameExtent((offset) => buffer[offset], filled);
    while (typeof extent === "number") {
      const needed = extent;
      while (filled < needed) {
        const n = await conn.read(buffer.subarray(filled, Math.max(needed, MAX_HEADER)));
        if (n === null) return;
        filled += n;
      }
      extent = frameExtent((offset) => buffer[offset], filled);
    }
    const frameEnd = extent.headerLength + extent.payloadLength;
    if (frameEnd > buffer.length) {
      const grown = new Uint8Array(Math.max(frameEnd, buffer.length * 2));
      grown.set(buffer.subarray(0, filled));
      buffer = grown;
    }
    while (filled < frameEnd) {
      const n = await conn.read(buffer.subarray(filled, frameEnd));
      if (n === null) return;
      filled += n;
    }
    await writeAll(conn, buffer.subarray(0, frameEnd));
    // A header read can take the start of the next frame when this one is shorter than a header.
    buffer.copyWithin(0, frameEnd, filled);
    filled -= frameEnd;
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 0) });
console.log(`LISTENING ${(listener.addr as Deno.NetAddr).port}`);
for await (const conn of listener) serve(conn).catch(() => conn.close());
