// Bare TCP echo on `node:net` (runs on Node, Deno and Bun): answers the
// upgrade request with a bare 101, then writes every byte back unparsed. No
// WebSocket work: the runtime's transport ceiling for the echo matrix (the
// load generator runs with `--expect same`). Prints `LISTENING <port>`.
//
// With `ECHO_GATHER=1` it holds the bytes of each frame until the whole
// frame has arrived, then writes that frame's chunks back as they came (no
// copy, no unmasking): the ceiling for a server that must hold a whole
// message before answering it, as every WebSocket server must. A bare echo
// overlaps reading one half of a large message with writing the other; a
// message server cannot.
import net from "node:net";
import process from "node:process";
import { frameExtent } from "../../_frames.mjs";

const HEAD_END = Buffer.from("\r\n\r\n");
const SWITCHING = Buffer.from("HTTP/1.1 101 Switching Protocols\r\n\r\n");
const GATHER = process.env.ECHO_GATHER === "1";

/** Echoes whole frames: holds chunks until the frames they carry are complete. */
function gatherer(socket) {
  const held = [];
  let heldBytes = 0;
  /** Offset in the held bytes where the next unfinished frame starts. */
  let start = 0;
  /** Offset where that frame ends, once its header is complete; -1 before. */
  let end = -1;
  const byteAt = (offset) => {
    for (const chunk of held) {
      if (offset < chunk.length) return chunk[offset];
      offset -= chunk.length;
    }
    return -1;
  };
  const release = (count) => {
    socket.cork();
    while (count > 0) {
      const chunk = held[0];
      if (chunk.length <= count) {
        socket.write(held.shift());
        count -= chunk.length;
        heldBytes -= chunk.length;
      } else {
        socket.write(chunk.subarray(0, count));
        held[0] = chunk.subarray(count);
        heldBytes -= count;
        count = 0;
      }
    }
    socket.uncork();
  };
  return (chunk) => {
    held.push(chunk);
    heldBytes += chunk.length;
    for (;;) {
      if (end === -1) {
        const extent = frameExtent((offset) => byteAt(start + offset), heldBytes - start);
        if (typeof extent === "number") break;
        end = start + extent.headerLength + extent.payloadLength;
      }
      if (heldBytes < end) break;
      start = end;
      end = -1;
    }
    if (start > 0) {
      const count = start;
      if (end !== -1) end -= count;
      start = 0;
      release(count);
    }
  };
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("error", () => {});
  let head = Buffer.alloc(0);
  const onHead = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf(HEAD_END);
    if (end === -1) return;
    socket.off("data", onHead);
    socket.write(SWITCHING);
    const echo = GATHER ? gatherer(socket) : (data) => socket.write(data);
    socket.on("data", echo);
    if (head.length > end + 4) echo(head.subarray(end + 4));
  };
  socket.on("data", onHead);
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`LISTENING ${server.address().port}`);
});
