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
 * - `/slow?id=X`: the server takes the socket's `readable` reader and does
 *   not read it until `/drain?id=X&count=N` reads `N` messages of `X` and
 *   sends `drained:<bytes>`. Only a codec-backed socket holds back its peer
 *   (and only `readableHighWaterMark: 1` keeps the server's queue to one
 *   message); the suite's backpressure step runs where the adapter has it.
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

/** Readers of `/slow` sockets, waiting for `/drain`. */
const slowReaders = new Map<string, ReadableStreamDefaultReader<string | Uint8Array>>();

/**
 * Keeps the reader of a `/slow` socket for {@linkcode drainSlow}; nothing
 * reads it until then, so the socket stops reading its transport.
 *
 * @param id The connection id.
 * @param socket The `/slow` socket, open.
 */
export function holdSlow(id: string, socket: ContractSocket): void {
  slowReaders.set(id, socket.readable.getReader());
}

/**
 * Reads `count` messages of the `/slow` socket `id`.
 *
 * @param id The connection id.
 * @param count How many messages to read.
 * @returns The `drained:<bytes>` answer, or `unknown id`.
 */
export async function drainSlow(id: string | null, count: number): Promise<string> {
  const reader = id === null ? undefined : slowReaders.get(id);
  if (reader === undefined) return "unknown id";
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const { value, done } = await reader.read();
    if (done) break;
    bytes += typeof value === "string" ? value.length : value.byteLength;
  }
  return `drained:${bytes}`;
}

/** The close a test client reported for `id`, resolved when it arrives. */
export function slot(id: string): PromiseWithResolvers<{ closeCode: number; reason: string }> {
  let entry = closes.get(id);
  if (!entry) {
    entry = withResolvers();
    closes.set(id, entry);
  }
  return entry;
}

/**
 * Echoes with `transfer`: binary messages go back from their own memory. One
 * over a whole buffer that the send did not detach gets a text message saying
 * so (which fails the test); a view of part of a buffer (a read chunk) is
 * copied, as documented.
 *
 * @param socket The socket.
 */
export function transferEcho(socket: ContractSocket): void {
  socket.binaryType = "uint8array";
  socket.onmessage = ({ data }) => {
    if (typeof data === "string") {
      socket.send(data).catch(() => {});
      return;
    }
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    socket.send(data, { transfer: true }).catch(() => {});
    if (whole && data.byteLength !== 0) {
      socket.send("a transferred message was not detached").catch(() => {});
    }
  };
}

/**
 * Keeps `count` binary messages as delivered (views, or `ArrayBuffer`s),
 * then sends them all back: a runtime, or a layer of ours, that reused a
 * message's memory after its handler would corrupt the early ones.
 *
 * @param socket The socket.
 * @param count Messages to keep before echoing them.
 * @param type The `binaryType` they are delivered as.
 */
export function holdThenEcho(
  socket: ContractSocket,
  count: number,
  type: "uint8array" | "arraybuffer",
): void {
  const kept: (Uint8Array | ArrayBuffer)[] = [];
  socket.binaryType = type;
  socket.onmessage = (event) => {
    kept.push(event.data);
    if (kept.length === count) { for (const data of kept) socket.send(data).catch(() => {}); }
  };
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
    case "/slow":
      if (id !== null) holdSlow(id, socket);
      return;
    case "/hold":
      holdThenEcho(
        socket,
        Number(url.searchParams.get("count") ?? "0"),
        url.searchParams.get("type") === "arraybuffer" ? "arraybuffer" : "uint8array",
      );
      return;
    case "/transfer":
      transferEcho(socket);
      return;
    case "/plain":
      // Echo with per-message compression refused.
      socket.onmessage = (event) => {
        socket.send(event.data, { compress: false }).catch(() => {});
      };
      return;
    case "/drain":
      socket.opened
        .then(() => drainSlow(id, Number(url.searchParams.get("count") ?? "0")))
        .then((answer) => socket.send(answer))
        .catch(() => socket.close(1011));
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
