/**
 * Echo server on edgesocket, codec-backed, on `Deno.listen` (the Deno
 * adapter's `listen`). Prints `LISTENING <port>`. `ES_REUSE=1` turns on
 * `reuseMessageBuffers` (the handler only sends the message on, which copies it).
 *
 * @module
 */

import { listen } from "../../../src/adapters/deno.ts";

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
    socket.onmessage = (event) => socket.send(event.data);
    socket.onerror = () => {};
  },
});
