// Run (Bun does not read deno.json's import map, so bundle first):
//   node_modules/.bin/deno bundle --platform deno -o /tmp/bun.mjs examples/bun/server.ts && node_modules/.bin/bun /tmp/bun.mjs
// Bun.serve with edgesocket's policy (origin, subprotocol, auth) and Bun's
// native framing and compression; `ping()` works on Bun.
import { type BunServer, createBunWebSocket } from "@edgesocket/core/bun";

// The slice of Bun's global used here, so `deno check` passes too.
declare const Bun: {
  serve(options: {
    port: number;
    fetch(request: Request, server: BunServer): Promise<Response | undefined>;
    websocket: unknown;
  }): { port: number };
};

const ws = createBunWebSocket({
  protocols: ["chat"],
  perMessageDeflate: true,
  authorize: (request) =>
    new URL(request.url).searchParams.get("token") === "secret"
      ? undefined
      : new Response("Unauthorized", { status: 401 }),
  onSocket: (socket) => {
    socket.onmessage = (event) => socket.send(event.data);
    socket.ping().then((rtt) => console.log(`RTT ${rtt.toFixed(1)} ms`), () => {});
  },
});

const server = Bun.serve({
  port: 8080,
  fetch: async (request, server) =>
    (await ws.upgrade(request, server)) ?? new Response("Connect with WebSocket"),
  websocket: ws.websocket,
});
console.log(`Listening on ws://localhost:${server.port}/?token=secret`);
