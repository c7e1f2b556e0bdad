/**
 * The `Bun.serve` adapter serving the test contract (`_bun_contract.ts`).
 * Run with Bun: `bun run tests/adapters/_bun_server.ts`; prints
 * `LISTENING <port>` once bound to 127.0.0.1.
 *
 * @module
 */

import { type BunServer, createBunWebSocket } from "../../src/adapters/bun.ts";
import { CONTRACT_POLICY, serveContract } from "./_bun_contract.ts";

// The slice of Bun's global this script uses (type-checks under Deno too).
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: BunServer): Promise<Response | undefined>;
    websocket: unknown;
  }): { port: number };
};

const ws = createBunWebSocket({
  ...CONTRACT_POLICY,
  perMessageDeflate: true,
  onSocket: (socket, request) => serveContract(socket, new URL(request.url)),
});

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: async (request, server) =>
    (await ws.upgrade(request, server)) ?? new Response("Not a WebSocket request", { status: 426 }),
  websocket: ws.websocket,
});

console.log(`LISTENING ${server.port}`);
