/**
 * Runs `_hono_app.ts` on whichever runtime runs this file, the way each
 * runtime serves a Hono app; prints `LISTENING <port>`.
 *
 * - Deno: `deno run -A tests/adapters/_hono_server.ts` (`Deno.serve(app.fetch)`)
 * - Bun: `bun run tests/adapters/_hono_server.ts` (`Bun.serve({ fetch, websocket })`)
 * - Node: bundled first (`_build.ts`), then `node .build/hono_server.mjs`
 *   (`@hono/node-server` plus `injectWebSocket`)
 *
 * @module
 */

import { injectWebSocket, websocket } from "../../src/adapters/hono.ts";
import { app } from "./_hono_app.ts";

interface Runtimes {
  Deno?: {
    serve(
      options: { port: number; hostname: string; onListen(addr: { port: number }): void },
      handler: (request: Request) => Response | Promise<Response>,
    ): unknown;
  };
  Bun?: {
    serve(options: {
      port: number;
      hostname: string;
      fetch: typeof app.fetch;
      websocket: unknown;
    }): { port: number };
  };
}

const runtimes = globalThis as Runtimes;
if (runtimes.Bun !== undefined) {
  const server = runtimes.Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: app.fetch,
    websocket,
  });
  console.log(`LISTENING ${server.port}`);
} else if (runtimes.Deno !== undefined) {
  runtimes.Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: (addr) => console.log(`LISTENING ${addr.port}`),
  }, (request) => app.fetch(request));
} else {
  const { serve } = await import("@hono/node-server");
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
    console.log(`LISTENING ${info.port}`);
  });
  injectWebSocket(server, app.fetch);
}
