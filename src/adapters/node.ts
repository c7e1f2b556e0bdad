/**
 * The `node:http` adapter: serve WebSockets from an `http.Server`'s
 * `"upgrade"` event, and dial `ws:`/`wss:` with `node:net`/`node:tls`. This
 * library's codec frames the bytes, so every feature is there (ping,
 * backpressure, any close code). The same code runs unchanged on Node (≥ 20),
 * on Bun and on Deno (their `node:http` compatibility layers).
 *
 * Slow or partial request heads never reach the `"upgrade"` event: the HTTP
 * server's own limits apply (`server.headersTimeout`, `server.requestTimeout`,
 * `maxHeaderSize`; on Node checked every `connectionsCheckingInterval`).
 *
 * @example A server on a free port, and a client
 * ```ts
 * import { createServer } from "node:http";
 * import { connect, createWebSocketServer } from "@edgesocket/core/node";
 * import assert from "node:assert/strict";
 *
 * const wss = createWebSocketServer({
 *   server: createServer(),
 *   onSocket: (socket) => socket.onmessage = (event) => socket.send(event.data),
 * });
 * await new Promise<void>((resolve) => wss.server.listen(0, "127.0.0.1", resolve));
 * const { port } = wss.server.address() as { port: number };
 * const client = connect(`ws://127.0.0.1:${port}/`);
 * await client.opened;
 * await client.send("hi");
 * for await (const message of client) {
 *   assert.equal(message, "hi");
 *   break;
 * }
 * await wss.close({ drainTimeout: 1000 });
 * assert.deepEqual(await client.closed, { closeCode: 1001, reason: "Server shutting down" });
 * await new Promise((resolve) => wss.server.close(resolve));
 * ```
 *
 * @module
 */

import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect as netConnect, isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import type { AcceptOptions } from "../accept.ts";
import { acceptWebSocket } from "../accept.ts";
import type { ByteDuplex } from "../connection.ts";
import type { ConnectOptions, DialOptions } from "../connect.ts";
import { openWebSocket } from "../client.ts";
import { withResolvers } from "../_promise.ts";
import { WebSocketError } from "../errors.ts";
import type { UpgradeRequest } from "../handshake.ts";
import { writeResponseHead } from "../http_head.ts";
import { type ShutdownOptions, SocketRegistry } from "../server.ts";
import type { EdgeSocket } from "../socket.ts";
import { nodeSocketToDuplex } from "./_node_duplex.ts";

export { type NodeDuplexOptions, nodeSocketToDuplex } from "./_node_duplex.ts";
export type { ConnectOptions, Dialer, DialOptions } from "../connect.ts";

const noop = (): void => {};

/**
 * Converts node:http's `IncomingMessage` to the request shape the handshake
 * reads. The scheme is `https` when the socket is a TLS socket.
 *
 * @param req The upgrade request.
 * @param socket The request's socket (its `encrypted` flag picks the scheme).
 * @returns Method, absolute URL and headers.
 * @throws {WebSocketError} `WS_ERR_INVALID_HANDSHAKE` (status 400) for a Host
 * or header value that cannot form a URL or `Headers`.
 *
 * @example Converting a request
 * ```ts ignore
 * server.on("upgrade", (req, socket) => {
 *   const request = toUpgradeRequest(req, socket);
 *   console.log(request.url, request.headers.get("sec-websocket-key"));
 * });
 * ```
 */
export function toUpgradeRequest(req: IncomingMessage, socket: Duplex): UpgradeRequest {
  const scheme = (socket as { encrypted?: boolean }).encrypted ? "https" : "http";
  try {
    const headers = new Headers();
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
    const url = new URL(req.url ?? "/", `${scheme}://${req.headers.host || "localhost"}`);
    return { method: req.method ?? "GET", url: url.href, headers };
  } catch (error) {
    throw new WebSocketError("WS_ERR_INVALID_HANDSHAKE", "Invalid request head", {
      status: 400,
      rule: "RFC 9112 §3.2",
      cause: error,
    });
  }
}

/**
 * Completes the opening handshake for node:http's `"upgrade"` event and
 * returns the open socket. A rejected handshake (400, 403, 405, 426, or the
 * `authorize` hook's response) is answered on the raw socket, which is then
 * closed, and the promise rejects with the {@linkcode WebSocketError}
 * carrying the `status`. Socket errors (e.g. ECONNRESET) never throw.
 *
 * @param req The upgrade request.
 * @param socket The raw socket node:http hands over.
 * @param head Bytes received after the request head (already frames).
 * @param options Handshake policy, limits, timeouts, heartbeat.
 * @returns The open socket.
 * @throws {WebSocketError} `WS_ERR_INVALID_HANDSHAKE` or `WS_ERR_HANDSHAKE_REJECTED`, with `status`.
 *
 * @example In an upgrade listener
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { handleUpgrade } from "@edgesocket/core/node";
 *
 * const server = createServer();
 * server.on("upgrade", async (req, socket, head) => {
 *   const ws = await handleUpgrade(req, socket, head, { protocols: ["chat"] }).catch(() => null);
 *   if (ws) ws.onmessage = (event) => ws.send(event.data);
 * });
 * server.listen(8080);
 * ```
 */
export async function handleUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: AcceptOptions = {},
): Promise<EdgeSocket> {
  socket.on("error", noop);
  let request: UpgradeRequest;
  try {
    request = toUpgradeRequest(req, socket);
  } catch (error) {
    if (error instanceof WebSocketError) rejectRaw(socket, 400, error.message);
    throw error;
  }
  (socket as Partial<Socket>).setNoDelay?.(true);
  const duplex = nodeSocketToDuplex(socket);
  // The bridge's own listener guards the socket now; the stand-ins would
  // only cost an array of listeners per idle socket.
  while (socket.listeners("error").includes(noop)) socket.off("error", noop);
  return await acceptWebSocket(request, duplex, {
    ...options,
    head: head.length > 0
      ? new Uint8Array(head.buffer, head.byteOffset, head.byteLength)
      : undefined,
  });
}

/**
 * Answers an upgrade request with a plain HTTP error on the raw socket and
 * ends it.
 *
 * @param socket The raw socket from the `"upgrade"` event.
 * @param status The HTTP status (e.g. 404, 503).
 * @param message The response body.
 *
 * @example Refusing an upgrade
 * ```ts ignore
 * server.on("upgrade", (req, socket) => rejectRaw(socket, 404, "No such endpoint"));
 * ```
 */
export function rejectRaw(socket: Duplex, status: number, message = ""): void {
  socket.on("error", noop);
  if (socket.destroyed) return;
  socket.end(writeResponseHead({
    status,
    headers: new Headers({ "content-type": "text/plain; charset=utf-8" }),
    body: message,
  }));
}

/** Options for {@linkcode createWebSocketServer}. */
export interface WebSocketServerOptions extends AcceptOptions {
  /**
   * The HTTP server to attach to. Without one, a server is created whose
   * plain requests get 426 Upgrade Required; call `listen()` on it.
   */
  server?: Server;
  /**
   * Which request paths are WebSocket endpoints: an exact pathname, or a
   * function given the pathname. Default: every path.
   */
  path?: string | ((pathname: string) => boolean);
  /** Called with each open socket and its request. */
  onSocket?: (socket: EdgeSocket, request: UpgradeRequest) => void;
  /** Called when a handshake fails (already answered on the wire) or `onSocket` throws. */
  onError?: (error: unknown, request: IncomingMessage) => void;
}

/** A WebSocket endpoint on a node:http server, from {@linkcode createWebSocketServer}. */
export interface WebSocketServer extends AsyncDisposable {
  /** The HTTP server the endpoint listens on. */
  readonly server: Server;
  /** The open sockets (iterate to broadcast). */
  readonly sockets: SocketRegistry;
  /** Whether {@linkcode WebSocketServer.close} was called. */
  readonly closing: boolean;
  /**
   * Graceful shutdown: new upgrades get 503, every socket gets a 1001 Close,
   * the sockets get `drainTimeout` ms to finish their closing handshake, then
   * the rest are terminated. A server created by {@linkcode createWebSocketServer}
   * also stops listening; one passed in is left to its owner.
   *
   * @param options Close code, reason and drain deadline.
   * @returns Resolves when no socket is left.
   */
  close(options?: ShutdownOptions): Promise<void>;
}

/**
 * Attaches a WebSocket endpoint to a node:http server's `"upgrade"` event.
 * Matching upgrades are handshaken with this library's policy (protocols,
 * origins, `authorize`), tracked for a graceful shutdown and handed to
 * `onSocket`.
 *
 * Upgrades for paths that do not match `path` are left to other `"upgrade"`
 * listeners; when this endpoint is the only listener they get 404.
 *
 * @param options The server, path filter, handshake policy, limits and callbacks.
 * @returns The endpoint, with `close()` for a graceful shutdown.
 *
 * @example Echo endpoint on /ws
 * ```ts
 * import { createServer } from "node:http";
 * import { createWebSocketServer } from "@edgesocket/core/node";
 * import assert from "node:assert/strict";
 *
 * const wss = createWebSocketServer({
 *   server: createServer(),
 *   path: "/ws",
 *   protocols: ["chat"],
 *   onSocket: (socket) => socket.onmessage = (event) => socket.send(event.data),
 * });
 * assert.equal(wss.sockets.size, 0);
 * await wss.close();
 * ```
 */
export function createWebSocketServer(options: WebSocketServerOptions = {}): WebSocketServer {
  const owned = options.server === undefined;
  const server = options.server ?? createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain; charset=utf-8", upgrade: "websocket" });
    res.end("Upgrade Required");
  });
  const { path, onSocket, onError } = options;
  const matches = typeof path === "function"
    ? path
    : path === undefined
    ? () => true
    : (pathname: string) => pathname === path;
  const sockets = new SocketRegistry();
  const pending = new Set<Promise<void>>();
  let closing = false;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Uint8Array): void => {
    socket.on("error", noop);
    if (!matches(pathnameOf(req.url))) {
      if (server.listenerCount("upgrade") <= 1) rejectRaw(socket, 404, "Not Found");
      return;
    }
    if (closing) {
      rejectRaw(socket, 503, "Server shutting down");
      return;
    }
    const accepting = handleUpgrade(req, socket, head, options).then((ws) => {
      sockets.add(ws);
      try {
        onSocket?.(ws, toUpgradeRequest(req, socket));
      } catch (error) {
        ws.close(1011);
        onError?.(error, req);
      }
    }, (error) => onError?.(error, req));
    pending.add(accepting);
    accepting.finally(() => pending.delete(accepting));
  };
  server.on("upgrade", onUpgrade);

  const close = async (shutdown: ShutdownOptions = {}): Promise<void> => {
    closing = true;
    await sockets.shutdown(shutdown);
    // Handshakes in flight when closing began: their sockets were closed on arrival.
    await Promise.allSettled([...pending]);
    if (sockets.size > 0) await sockets.shutdown(shutdown);
    if (owned && server.listening) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  };

  return {
    server,
    sockets,
    get closing(): boolean {
      return closing;
    },
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}

function pathnameOf(target: string | undefined): string {
  const raw = target ?? "/";
  const end = raw.search(/[?#]/);
  return end === -1 ? raw : raw.slice(0, end);
}

/**
 * Opens a TCP (`ws:`) or TLS (`wss:`) connection with `node:net`/`node:tls`
 * (Node, Bun, or Deno's compatibility layer). Nagle's algorithm is off: the
 * codec batches its writes itself.
 *
 * @param url A `ws:` or `wss:` URL.
 * @param options Abort signal and extra CA certificates.
 * @returns The connection as a byte duplex.
 * @throws {Error} The socket's error (e.g. ECONNREFUSED), or the signal's reason.
 *
 * @example Dialing
 * ```ts ignore
 * import { dialNode } from "@edgesocket/core/node";
 *
 * const duplex = await dialNode(new URL("ws://127.0.0.1:8080/"));
 * await duplex.writable.close();
 * ```
 */
export function dialNode(url: URL, options: DialOptions = {}): Promise<ByteDuplex> {
  const { signal } = options;
  return new Promise<ByteDuplex>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const secure = url.protocol === "wss:" || url.protocol === "https:";
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port) || (secure ? 443 : 80);
    const socket: Socket = secure
      ? tlsConnect({
        host,
        port,
        servername: isIP(host) === 0 ? host : undefined,
        ca: options.caCerts,
        ALPNProtocols: ["http/1.1"],
      })
      : netConnect({ host, port });
    const settle = (): void => {
      socket.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
    };
    const onError = (error: Error): void => {
      settle();
      socket.destroy();
      reject(error);
    };
    const onAbort = (): void => {
      settle();
      socket.on("error", noop);
      socket.destroy();
      reject(signal?.reason);
    };
    socket.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once(secure ? "secureConnect" : "connect", () => {
      settle();
      socket.setNoDelay(true);
      resolve(nodeSocketToDuplex(socket));
    });
  });
}

/**
 * Connects to a WebSocket server over `node:net`/`node:tls`, with this
 * library's codec. Same as the runtime-neutral `connect` of
 * `@edgesocket/core`, with the node dialer fixed.
 *
 * @param url A `ws:`, `wss:`, `http:` or `https:` URL.
 * @param options Subprotocols, headers, TLS trust, limits, timeouts, abort signal.
 * @returns The socket, still connecting.
 * @throws {DOMException} `SyntaxError` for a bad URL or subprotocol list.
 *
 * @example Connecting
 * ```ts ignore
 * import { connect } from "@edgesocket/core/node";
 *
 * const socket = connect("ws://127.0.0.1:8080/", { protocols: ["chat"] });
 * const { protocol } = await socket.opened;
 * ```
 */
export function connect(url: string | URL, options: ConnectOptions = {}): EdgeSocket {
  const dialed = withResolvers<ByteDuplex>();
  const socket = openWebSocket(url, dialed.promise, options);
  const dial = options.dial ?? dialNode;
  dial(new URL(socket.url), { signal: options.signal, caCerts: options.caCerts })
    .then(dialed.resolve, dialed.reject);
  return socket;
}
