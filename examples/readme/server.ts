import { upgradeWebSocket } from "@edgesocket/core/deno";

Deno.serve({ port: 8080 }, async (request) => {
  const { socket, response } = await upgradeWebSocket(request, {
    protocols: ["chat", "superchat"],
    origins: ["http://localhost:8080"],
  });
  socket?.addEventListener("message", (event) => socket.send(`echo: ${event.data}`));
  return response;
});
