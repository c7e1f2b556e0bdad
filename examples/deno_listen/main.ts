// Run: deno run --allow-net examples/deno_listen/main.ts
// A WebSocket server on a raw Deno.listen socket, framed by edgesocket's own
// codec: pings, heartbeats, backpressure and every close code work. Ctrl-C
// shuts down gracefully (1001 to every client, 2 s to drain).
import { listen } from "@edgesocket/core/deno";

const server = listen({
  port: 8080,
  hostname: "127.0.0.1",
  handshakeTimeout: 5_000,
  heartbeat: { interval: 30_000, timeout: 10_000 },
  onSocket: async (socket) => {
    for await (const message of socket) await socket.send(message);
  },
  onListen: (addr) => console.log(`Listening on ws://${addr.hostname}:${addr.port}`),
});
Deno.addSignalListener("SIGINT", () => server.shutdown({ drainTimeout: 2_000 }));
await server.finished;
