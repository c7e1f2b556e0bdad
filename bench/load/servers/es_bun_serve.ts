/**
 * Echo server on edgesocket, native-backed, on `Bun.serve` (the Bun
 * adapter's `createBunWebSocket`), compression off. Run with Bun. Prints
 * `LISTENING <port>`.
 *
 * @module
 */

import process from "node:process";
import { type BunServer, createBunWebSocket } from "../../../src/adapters/bun.ts";

interface BunRuntime {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer): Promise<Response | undefined>;
    websocket: unknown;
  }): { port: number };
}

const ws = createBunWebSocket({
  maxPayloadLength: 64 * 1024 * 1024,
  onSocket: (socket) => {
    // Views, the form ws and Bun hand binary messages to their handlers in.
    socket.binaryType = "uint8array";
    socket.onmessage = (event) => socket.send(event.data);
    socket.onerror = () => {};
  },
});
const bun = (globalThis as unknown as { Bun: BunRuntime }).Bun;
const server = bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  fetch: async (request, server) =>
    (await ws.upgrade(request, server)) ?? new Response("Upgrade required", { status: 426 }),
  websocket: ws.websocket,
});
console.log(`LISTENING ${server.port}`);
