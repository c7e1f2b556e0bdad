/**
 * Echo server on edgesocket, codec-backed, on `node:http`'s `"upgrade"`
 * event (the node adapter's `createWebSocketServer`). Runs on Deno and Bun
 * as is, on Node as a bundle. Prints `LISTENING <port>`. `ES_TRANSFER=1` sends
 * with `transfer: true`. `ES_REUSE=1` turns on
 * `reuseMessageBuffers` (the handler only sends the message on, which copies it).
 *
 * @module
 */

import process from "node:process";
import { createWebSocketServer } from "../../../src/adapters/node.ts";

/** `ES_TRANSFER=1`: echo with `transfer` (no send snapshot for whole buffers). */
const options = { transfer: process.env.ES_TRANSFER === "1" };

const wss = createWebSocketServer({
  maxFrameSize: 64 * 1024 * 1024,
  maxMessageSize: 64 * 1024 * 1024,
  reuseMessageBuffers: process.env.ES_REUSE === "1",
  onSocket: (socket) => {
    // Views, the form ws and Bun hand binary messages to their handlers in.
    socket.binaryType = "uint8array";
    socket.onmessage = (event) => socket.send(event.data, options);
    socket.onerror = () => {};
  },
});
wss.server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const address = wss.server.address() as { port: number };
  console.log(`LISTENING ${address.port}`);
});
