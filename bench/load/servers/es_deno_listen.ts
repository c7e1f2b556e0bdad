/**
 * Echo server on edgesocket, codec-backed, on `Deno.listen` (the Deno
 * adapter's `listen`). Prints `LISTENING <port>`. `ES_TRANSFER=1` sends
 * with `transfer: true`. `ES_REUSE=1` turns on
 * `reuseMessageBuffers` (the handler only sends the message on).
 *
 * @module
 */

import { listen } from "../../../src/adapters/deno.ts";

/** `ES_TRANSFER=1`: echo with `transfer` (no send snapshot for whole buffers). */
const options = { transfer: Deno.env.get("ES_TRANSFER") === "1" };

listen({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0] ?? 0),
  maxFrameSize: 64 * 1024 * 1024,
  maxMessageSize: 64 * 1024 * 1024,
  reuseMessageBuffers: Deno.env.get("ES_REUSE") === "1",
  onListen: ({ port }) => console.log(`LISTENING ${port}`),
  onSocket: (socket) => {
    // Views, the form ws and Bun hand binary messages to their handlers in.
    socket.binaryType = "uint8array";
    socket.onmessage = (event) => socket.send(event.data, options);
    socket.onerror = () => {};
  },
});
