/**
 * The server side of the adapter test contract, runtime-neutral, shared by
 * the Deno tests (in process) and the Bun server (`_bun_server.ts`). It
 * follows the paths of `_node_server.ts` so the shared suite can run against
 * every adapter:
 *
 * - any path: echo (text as text, binary as binary); `?id=X` records the close.
 * - `/close`: the server closes with 4002 `server-bye`.
 * - `/ping`: the server pings and sends `rtt:<ms>`, or `error:<code>`.
 * - `/report?id=X`: sends the recorded close of connection X as JSON, then closes.
 * - `/caps`: sends `JSON.stringify(socket.capabilities)`.
 *
 * Policy: subprotocols `superchat`, `chat`; origin `http://allowed.test`;
 * `x-deny: 1` gets 401; two `Set-Cookie` headers on the 101.
 *
 * @module
 */

import type { EdgeSocket } from "../../src/socket.ts";
import type { WebSocketError } from "../../src/errors.ts";
import { withResolvers } from "../../src/_promise.ts";

/** The policy every contract server applies. */
export const CONTRACT_POLICY = {
  protocols: ["superchat", "chat"],
  origins: ["http://allowed.test"],
  headers: [["set-cookie", "edge=1; Path=/"], ["set-cookie", "socket=2; Path=/"]] as [
    string,
    string,
  ][],
  authorize: (request: { headers: Headers }): Response | undefined =>
    request.headers.get("x-deny") === "1" ? new Response("Denied", { status: 401 }) : undefined,
};

/** A socket as the contract needs it: `ping` may be missing from the type (Deno.serve). */
export type ContractSocket = Omit<EdgeSocket, "ping">;

const closes = new Map<string, PromiseWithResolvers<{ closeCode: number; reason: string }>>();

function slot(id: string): PromiseWithResolvers<{ closeCode: number; reason: string }> {
  let entry = closes.get(id);
  if (!entry) {
    entry = withResolvers();
    closes.set(id, entry);
  }
  return entry;
}

/**
 * Serves one accepted socket per the contract.
 *
 * @param socket The socket.
 * @param url The request URL.
 */
export function serveContract(socket: ContractSocket, url: URL): void {
  const id = url.searchParams.get("id");
  switch (url.pathname) {
    case "/close":
      socket.close(4002, "server-bye");
      return;
    case "/caps":
      socket.opened.then(() => socket.send(JSON.stringify(socket.capabilities))).catch(() => {});
      return;
    case "/ping":
      socket.opened.then(() => (socket as EdgeSocket).ping()).then(
        (rtt) => socket.send(`rtt:${rtt}`),
        (error: WebSocketError) => socket.send(`error:${error.code}`),
      ).catch(() => {});
      return;
    case "/report":
      if (id !== null) {
        slot(id).promise.then(async (info) => {
          await socket.opened;
          await socket.send(JSON.stringify(info));
          socket.close(1000);
        }).catch(() => {});
      }
      return;
    default:
      if (id !== null) {
        socket.addEventListener("close", (event) => {
          slot(id).resolve({ closeCode: event.code, reason: event.reason });
        });
      }
      socket.binaryType = "uint8array";
      socket.onmessage = (event) => {
        socket.send(event.data).catch(() => {});
      };
  }
}
