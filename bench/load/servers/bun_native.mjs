// Echo server on Bun's own WebSocket (`Bun.serve` with `websocket`),
// compression off. Prints `LISTENING <port>`.
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  fetch(request, server) {
    return server.upgrade(request) ? undefined : new Response("Upgrade required", { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    maxPayloadLength: 64 * 1024 * 1024,
    message(ws, message) {
      ws.send(message);
    },
  },
});
console.log(`LISTENING ${server.port}`);
