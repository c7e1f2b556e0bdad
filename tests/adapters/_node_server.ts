/**
 * The node:http adapter's server under test, run unchanged under Node (from
 * the bundle `tests/adapters/_build.ts` emits), Bun (`bun <this file>`) and
 * Deno (`deno run -A <this file>`). Prints `LISTENING <port>` once bound.
 *
 * It serves the contract of the shared suite (see `_suite.ts`) on every path
 * except `/life/*` and `/admin/*`, which hold the lifecycle endpoints:
 *
 * - `/open/echo`: the suite's echo and subprotocols, but any origin (for browsers).
 * - `/open/reuse`: the echo with `reuseMessageBuffers: true`; checks kept views never change.
 * - `/open/hold?count=N`: keeps N binary messages (as views), then sends them all back.
 * - `/open/transfer`, `/open/reuse-transfer`: the echo sending binary messages on with
 *   `transfer: true` (the second with `reuseMessageBuffers` too); checks they were detached.
 * - `/deflate/echo`: echo with `perMessageDeflate: true`, any origin.
 * - `/deflate/limited`: the same with `maxMessageSize: 1 MiB` (inflated size).
 * - `/life/idle`: `idleTimeout: 300` (the server closes an idle socket with 1001).
 * - `/life/heartbeat?id=X`: `heartbeat: { interval: 200, timeout: 500 }`.
 * - `/life/close-timeout?id=X`: the server closes with 4003 at once, `closeTimeout: 300`.
 * - `GET /admin/shutdown`: plain HTTP; runs `close({ drainTimeout: 500 })` on the
 *   suite endpoint and answers `{"remaining": n}` when it is done.
 *
 * The HTTP server gets `headersTimeout: 500`, `requestTimeout: 1000` and
 * `connectionsCheckingInterval: 100`, so a slow request head is dropped fast.
 *
 * @module
 */

import { createServer } from "node:http";
import process from "node:process";
import { createWebSocketServer } from "../../src/adapters/node.ts";
import type { EdgeSocket } from "../../src/socket.ts";
import { withResolvers } from "../../src/_promise.ts";
import { holdThenEcho, transferEcho } from "./_bun_contract.ts";

const SUITE_PROTOCOLS = ["superchat", "chat"];
const SUITE_ORIGINS = ["http://allowed.test"];

const server = createServer({
  headersTimeout: 500,
  requestTimeout: 1000,
  connectionsCheckingInterval: 100,
});

/** Close info per connection id, for `/report`. */
const closes = new Map<string, PromiseWithResolvers<{ closeCode: number; reason: string }>>();
function closeSlot(id: string): PromiseWithResolvers<{ closeCode: number; reason: string }> {
  let slot = closes.get(id);
  if (!slot) {
    slot = withResolvers();
    closes.set(id, slot);
  }
  return slot;
}
function record(id: string | null, socket: EdgeSocket): void {
  if (id === null) return;
  socket.addEventListener("close", (event) => {
    closeSlot(id).resolve({ closeCode: event.code, reason: event.reason });
  });
}

/** Readers of `/slow` sockets, waiting for `/drain`. */
const slow = new Map<string, ReadableStreamDefaultReader<string | Uint8Array>>();

function echo(socket: EdgeSocket): void {
  socket.binaryType = "uint8array";
  socket.onmessage = (event) => {
    socket.send(event.data).catch(() => {});
  };
}

function isLifecycle(pathname: string): boolean {
  return pathname.startsWith("/life/") || pathname.startsWith("/open/") ||
    pathname.startsWith("/deflate/") || pathname === "/slow";
}

const suite = createWebSocketServer({
  server,
  path: (pathname) => !isLifecycle(pathname),
  protocols: SUITE_PROTOCOLS,
  origins: SUITE_ORIGINS,
  authorize: (request) =>
    request.headers.get("x-deny") === "1" ? new Response("Denied", { status: 401 }) : undefined,
  onSocket: (socket, request) => {
    const url = new URL(request.url);
    const id = url.searchParams.get("id");
    switch (url.pathname) {
      case "/close":
        socket.close(4002, "server-bye");
        return;
      case "/ping":
        socket.ping().then(
          (rtt) => socket.send(`rtt:${rtt}`),
          (error) => socket.send(`error:${error}`),
        ).catch(() => {});
        return;
      case "/report":
        if (id !== null) {
          closeSlot(id).promise.then((info) => {
            socket.send(JSON.stringify(info)).then(() => socket.close(1000));
          });
        }
        return;
      case "/drain": {
        const reader = id === null ? undefined : slow.get(id);
        const count = Number(url.searchParams.get("count") ?? "0");
        if (!reader) {
          socket.close(4004, "unknown id");
          return;
        }
        (async () => {
          let bytes = 0;
          for (let i = 0; i < count; i++) {
            const { value, done } = await reader.read();
            if (done) break;
            bytes += typeof value === "string" ? value.length : value.byteLength;
          }
          await socket.send(`drained:${bytes}`);
        })().catch(() => socket.close(1011));
        return;
      }
      default:
        record(id, socket);
        echo(socket);
    }
  },
});

// `/slow`: the server does not read until `/drain` asks it to.
createWebSocketServer({
  server,
  path: "/slow",
  protocols: SUITE_PROTOCOLS,
  readableHighWaterMark: 1,
  onSocket: (socket, request) => {
    const id = new URL(request.url).searchParams.get("id");
    if (id !== null) slow.set(id, socket.readable.getReader());
  },
});

// `/open/echo`: the suite's echo without the origin allowlist, for browsers
// on a blank page (`Origin: null`).
createWebSocketServer({
  server,
  path: "/open/echo",
  protocols: SUITE_PROTOCOLS,
  onSocket: echo,
});

// `/open/reuse`: the echo with `reuseMessageBuffers` (large binary messages lent to the
// handler). A view kept past its handler must be detached, or (a message that was not
// lent) hold its bytes: if the one kept from the last message shows other bytes, a text
// message says so (and fails the test).
createWebSocketServer({
  server,
  path: "/open/reuse",
  reuseMessageBuffers: true,
  onSocket: (socket) => {
    socket.binaryType = "uint8array";
    let kept: { view: Uint8Array; bytes: Uint8Array } | undefined;
    socket.onmessage = (event) => {
      if (kept !== undefined && kept.view.byteLength !== 0) {
        const { view, bytes } = kept;
        if (view.some((byte, i) => byte !== bytes[i])) {
          socket.send("a lent message changed after its handler").catch(() => {});
        }
      }
      kept = event.data instanceof Uint8Array
        ? { view: event.data, bytes: event.data.slice() }
        : undefined;
      socket.send(event.data).catch(() => {});
    };
  },
});

// `/open/hold?count=N`: the messages are the handler's to keep (on Bun, large ones are
// assembled in pooled buffers and copied out: none of them may change afterwards).
createWebSocketServer({
  server,
  path: "/open/hold",
  onSocket: (socket, request) => {
    const count = new URL(request.url, "http://x").searchParams.get("count");
    holdThenEcho(socket, Number(count ?? "0"), "uint8array");
  },
});

// `/open/transfer` and `/open/reuse-transfer`: binary messages go back with `transfer`
// (the contract's `transferEcho`, which fails the test if one is not detached).
for (const reuseMessageBuffers of [false, true]) {
  createWebSocketServer({
    server,
    path: reuseMessageBuffers ? "/open/reuse-transfer" : "/open/transfer",
    reuseMessageBuffers,
    onSocket: transferEcho,
  });
}

// `/deflate/*`: permessage-deflate (RFC 7692) with the defaults, any origin.
createWebSocketServer({
  server,
  path: "/deflate/echo",
  perMessageDeflate: true,
  onSocket: echo,
});

createWebSocketServer({
  server,
  path: "/deflate/limited",
  perMessageDeflate: true,
  maxMessageSize: 1024 * 1024,
  onSocket: echo,
});

createWebSocketServer({
  server,
  path: "/life/idle",
  idleTimeout: 300,
  onSocket: echo,
});

createWebSocketServer({
  server,
  path: "/life/heartbeat",
  heartbeat: { interval: 200, timeout: 500 },
  onSocket: (socket, request) => {
    record(new URL(request.url).searchParams.get("id"), socket);
    echo(socket);
  },
});

createWebSocketServer({
  server,
  path: "/life/close-timeout",
  closeTimeout: 300,
  onSocket: (socket, request) => {
    record(new URL(request.url).searchParams.get("id"), socket);
    socket.close(4003, "closing");
  },
});

server.on("request", (req, res) => {
  if (req.url === "/admin/shutdown") {
    suite.close({ drainTimeout: 500 }).then(() => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ remaining: suite.sockets.size }));
    });
    return;
  }
  res.writeHead(426, { "content-type": "text/plain" });
  res.end("Upgrade Required");
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  process.stdout.write(`LISTENING ${port}\n`);
});
