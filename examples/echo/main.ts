// Run: deno run --allow-net examples/echo/main.ts
// The smallest echo server on a raw Deno.listen socket: the connection's
// bytes go straight to edgesocket's codec (upgradeConnection), no HTTP server.
import { upgradeConnection } from "@edgesocket/core";

const listener = Deno.listen({ hostname: "127.0.0.1", port: 8080 });
console.log(`Echo on ws://127.0.0.1:${listener.addr.port}`);
for await (const conn of listener) {
  upgradeConnection(conn).then(async (socket) => {
    for await (const message of socket) await socket.send(message);
  }, (error) => console.error("Handshake failed:", error.message));
}
