/**
 * A chat-style broadcast server on node:http; the same code runs on Deno,
 * Node and Bun:
 *
 *   deno run -A examples/node/server.ts
 *
 * Node and Bun do not read deno.json's import map, so bundle first:
 *
 *   node_modules/.bin/deno bundle --platform deno -o /tmp/server.mjs examples/node/server.ts
 *   node /tmp/server.mjs        # or: node_modules/.bin/bun /tmp/server.mjs
 *
 * Listens on PORT (default 8080); every message is sent to every client.
 * Ctrl-C shuts down gracefully (1001 to everyone, 2 s to drain).
 *
 * @module
 */

import { createServer } from "node:http";
import process from "node:process";
import { createWebSocketServer } from "@edgesocket/core/node";

const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end("WebSocket endpoint: /chat\n");
});

const wss = createWebSocketServer({
  server,
  path: "/chat",
  protocols: ["chat"],
  heartbeat: { interval: 30_000, timeout: 10_000 },
  onSocket: (socket) => {
    socket.onmessage = (event) => {
      for (const peer of wss.sockets) peer.send(event.data).catch(() => {});
    };
  },
});

const port = Number(process.env.PORT ?? 8080);
server.listen(port, () => process.stdout.write(`LISTENING ${port}\n`));

process.once("SIGINT", async () => {
  await wss.close({ drainTimeout: 2000 });
  server.close();
});
