// Run on Deno: deno run -A examples/hono/main.ts
// Bun and Node do not read deno.json's import map, so bundle first:
//   node_modules/.bin/deno bundle --platform deno -o /tmp/hono.mjs examples/hono/main.ts
//   node_modules/.bin/bun /tmp/hono.mjs    # Bun.serve + websocket
//   node /tmp/hono.mjs                     # @hono/node-server + injectWebSocket
// One Hono app, served the way each runtime serves Hono.
import { injectWebSocket, websocket } from "@edgesocket/core/hono";
import { app } from "./app.ts";

const runtime = globalThis as {
  Deno?: { serve(options: { port: number }, handler: (r: Request) => Promise<Response>): unknown };
  Bun?: { serve(options: { port: number; fetch: typeof app.fetch; websocket: unknown }): unknown };
};

if (runtime.Bun) {
  runtime.Bun.serve({ port: 8080, fetch: app.fetch, websocket });
} else if (runtime.Deno) {
  runtime.Deno.serve({ port: 8080 }, async (request) => await app.fetch(request));
} else {
  const { serve } = await import("@hono/node-server");
  injectWebSocket(serve({ fetch: app.fetch, port: 8080 }), app.fetch);
}
console.log("Listening on http://localhost:8080 (WebSocket at /ws)");
