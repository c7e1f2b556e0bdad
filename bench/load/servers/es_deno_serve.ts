/**
 * Echo server on edgesocket, native-backed, on `Deno.serve` (the Deno
 * adapter's `upgradeWebSocket`). Prints `LISTENING <port>`.
 *
 * @module
 */

import { upgradeWebSocket } from "../../../src/adapters/deno.ts";

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0] ?? 0),
  onListen: ({ port }) => console.log(`LISTENING ${port}`),
}, async (request) => {
  const { socket, response } = await upgradeWebSocket(request);
  if (socket) {
    // Views, the form ws and Bun hand binary messages to their handlers in.
    socket.binaryType = "uint8array";
    socket.onmessage = (event) => socket.send(event.data);
    socket.onerror = () => {};
  }
  return response;
});
