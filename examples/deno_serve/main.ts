// Run: deno run --allow-net examples/deno_serve/main.ts
// A chat-room echo on Deno.serve: our policy decides (origin, subprotocol,
// cookie), Deno frames. Deno's native socket cannot ping, so `ping()` is not
// in the socket's type; Deno's own heartbeat is configured instead.
import { upgradeWebSocket } from "@edgesocket/core/deno";

Deno.serve({ port: 8080 }, async (request) => {
  const { socket, response } = await upgradeWebSocket(request, {
    protocols: ["chat"],
    origins: ["http://localhost:8080"],
    headers: { "set-cookie": "seen=1; Path=/; HttpOnly" },
    heartbeat: { interval: 15_000 },
  });
  if (socket) socket.onmessage = (event) => socket.send(`echo: ${event.data}`);
  return response;
});
