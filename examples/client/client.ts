/**
 * A Deno client: connects, sends a line, prints the echo and the round-trip
 * time, closes.
 *
 *   deno run -A examples/node/server.ts &            # any echo/broadcast server
 *   deno run -A examples/client/client.ts ws://127.0.0.1:8080/chat
 *
 * @module
 */

import { connect } from "@edgesocket/core";

const url = Deno.args[0] ?? "ws://127.0.0.1:8080/chat";
const socket = connect(url, {
  protocols: ["chat"],
  handshakeTimeout: 5000,
  signal: AbortSignal.timeout(10_000),
});
const { protocol } = await socket.opened;
console.log(`connected to ${url} (subprotocol ${protocol || "none"})`);
console.log(`ping: ${(await socket.ping()).toFixed(2)} ms`);
await socket.send("hello from edgesocket");
for await (const message of socket) {
  console.log("received:", message);
  break;
}
socket.close(1000, "done");
console.log("closed:", await socket.closed);
