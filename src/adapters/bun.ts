/**
 * The `Bun.serve` adapter: our handshake policy (origins, subprotocols,
 * `authorize`, custom headers) decides, Bun frames with its native
 * WebSocket, and its server-level handlers drive one `EdgeSocket` per
 * connection.
 *
 * What Bun's `ServerWebSocket` gives and lacks:
 *
 * - Pings: yes (`ws.ping()` and the `pong` handler), so `ping()` and
 *   `heartbeat` work.
 * - Send backpressure: half. `send()` resolves at once when Bun wrote the
 *   message, and after Bun's `drain` when Bun had to queue it (`send`
 *   returned -1); a message Bun dropped (0) rejects. Reading cannot be paused,
 *   so `capabilities.backpressure` is `false`.
 * - Compression: Bun's own permessage-deflate, with the `perMessageDeflate`
 *   option; Bun does not report what it agreed, so `extensions` is inferred
 *   from the offer (Bun answers
 *   `permessage-deflate; client_no_context_takeover; server_no_context_takeover`).
 * - Close codes: any code RFC 6455 §7.4 allows.
 * - Largest message: Bun's `maxPayloadLength` (default 16 MiB), passed through.
 *
 * Bun's own types are not needed: the few this file uses are declared here.
 *
 * @module
 */

import { RESOLVED, withResolvers } from "../_promise.ts";
import { encodeClosePayload } from "../close.ts";
import { WebSocketError } from "../errors.ts";
import { negotiateUpgrade, parseExtensions, rejectionResponse } from "../handshake.ts";
import {
  EdgeSocket,
  type SendOptions,
  type SocketCapabilities,
  type SocketDriver,
  type SocketEvents,
  type SocketOptions,
} from "../socket.ts";
import { customHeaders, type NativeUpgradeOptions, notOpen } from "./_native.ts";
export type { NativeUpgradeOptions } from "./_native.ts";

/** The part of Bun's `ServerWebSocket` this adapter uses. */
export interface BunServerWebSocket<T> {
  /** Per-connection data given to `server.upgrade`. */
  readonly data: T;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** How binary messages reach the `message` handler (Bun's default `"nodebuffer"`). */
  binaryType?: "nodebuffer" | "arraybuffer" | "uint8array";
  /** Sends; returns bytes sent, -1 when queued (backpressure), 0 when dropped. */
  send(data: string | Uint8Array<ArrayBuffer> | ArrayBuffer, compress?: boolean): number;
  /** Sends a Ping; same return values as `send`. */
  ping(data?: Uint8Array<ArrayBuffer>): number;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Drops the connection at once. */
  terminate(): void;
  /** Bytes queued by Bun. */
  getBufferedAmount(): number;
}

/** The part of Bun's `Server` this adapter uses. */
export interface BunServer {
  /** Upgrades a request; `false` if it is not a valid upgrade. */
  upgrade<T>(request: Request, options?: { headers?: HeadersInit; data?: T }): boolean;
}

/** Bun's permessage-deflate settings, passed through. */
export type BunPerMessageDeflate = boolean | {
  /** Compress outgoing messages: `true`, `false`, or a shared/dedicated compressor. */
  compress?: boolean | string;
  /** Decompress incoming messages. */
  decompress?: boolean | string;
};

/** Per-connection state carried in Bun's `ws.data`. */
export interface BunSocketData {
  /** The upgrade request. */
  readonly request: Request;
  /** The agreed subprotocol, or `""`. */
  readonly protocol: string;
  /** The extensions Bun is expected to have agreed, or `""`. */
  readonly extensions: string;
  /** Receives the socket once open. */
  readonly onSocket: (socket: EdgeSocket, request: Request) => void;
  /** Heartbeat, idle timeout and stream sizes of the socket. */
  readonly socketOptions: SocketOptions;
  /** The driver, once open. */
  driver?: BunSocketDriver;
}

/** The `websocket` object to pass to `Bun.serve`. */
export interface BunWebSocketHandler {
  /** Bun's permessage-deflate (see {@linkcode BunWebSocketOptions.perMessageDeflate}). */
  perMessageDeflate?: BunPerMessageDeflate;
  /** Largest message Bun accepts, in bytes. */
  maxPayloadLength?: number;
  /** Bun's own idle timeout in seconds (0: off; Bun's default 120). */
  idleTimeout?: number;
  /** Bun's own pings (off: heartbeats are ours). */
  sendPings?: boolean;
  /** A connection opened. */
  open(ws: BunServerWebSocket<BunSocketData>): void;
  /** A message arrived. */
  message(ws: BunServerWebSocket<BunSocketData>, message: string | Uint8Array | ArrayBuffer): void;
  /** A Pong arrived. */
  pong(ws: BunServerWebSocket<BunSocketData>, data: Uint8Array): void;
  /** Bun's send queue emptied. */
  drain(ws: BunServerWebSocket<BunSocketData>): void;
  /** The connection closed. */
  close(ws: BunServerWebSocket<BunSocketData>, code: number, reason: string): void;
}

/** Bun's server-level WebSocket settings, for {@linkcode createBunWebSocketHandler}. */
export interface BunHandlerOptions {
  /** Bun's permessage-deflate; default off. */
  perMessageDeflate?: BunPerMessageDeflate;
  /** Largest message Bun accepts, in bytes (Bun's default 16 MiB); larger ones close with 1009. */
  maxPayloadLength?: number;
}

/** Options for {@linkcode upgradeBunRequest}. */
export interface BunUpgradeOptions extends NativeUpgradeOptions {
  /** Our heartbeat: Ping every `interval` ms, close with 1006 without a Pong in `timeout` ms. */
  heartbeat?: SocketOptions["heartbeat"];
  /** Whether the handler has permessage-deflate on (to report `extensions`). Default off. */
  perMessageDeflate?: BunPerMessageDeflate;
  /** Called with each socket once open. */
  onSocket: (socket: EdgeSocket, request: Request) => void;
}

/** Options for {@linkcode createBunWebSocket}. */
export interface BunWebSocketOptions extends BunUpgradeOptions, BunHandlerOptions {}

/** What {@linkcode createBunWebSocket} returns. */
export interface BunWebSocket {
  /**
   * Runs the handshake policy and upgrades. Resolves to `undefined` after an
   * upgrade (return it from `fetch`), to the rejection `Response`, or to
   * `null` when the request is no WebSocket upgrade at all (serve it yourself).
   * Async because policy hooks may be; Bun's `fetch` may return a promise.
   *
   * @param request The request.
   * @param server Bun's server (`fetch`'s second argument).
   * @returns `undefined`, a rejection, or `null`.
   */
  upgrade(request: Request, server: BunServer): Promise<Response | undefined | null>;
  /** Pass as `Bun.serve({ websocket })`. */
  readonly websocket: BunWebSocketHandler;
}

/** What a `Bun.serve` socket can do (see the module documentation). */
export const BUN_CAPABILITIES: SocketCapabilities = Object.freeze({
  ping: true,
  backpressure: false,
  compression: true,
  anyCloseCode: true,
});

/**
 * A driver over Bun's `ServerWebSocket`, fed by the server-level handlers.
 */
export class BunSocketDriver implements SocketDriver {
  readonly capabilities: SocketCapabilities = BUN_CAPABILITIES;
  /** The hooks of the socket. */
  readonly events: SocketEvents;
  #ws: BunServerWebSocket<BunSocketData>;
  #waiting: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  /**
   * Whether permessage-deflate is on for this socket. Without it, Bun is
   * never asked to compress: `send(data, true)` copies the whole payload
   * even when there is nothing to compress with (64 KiB echo: memmove 11% →
   * 24% of the server's cycles under perf, about 25% fewer messages/s).
   */
  #deflate: boolean;

  /**
   * Binds to Bun's socket.
   *
   * @param ws Bun's socket.
   * @param events The hooks of the `EdgeSocket` being built.
   */
  constructor(ws: BunServerWebSocket<BunSocketData>, events: SocketEvents) {
    this.#ws = ws;
    this.events = events;
    this.#deflate = ws.data.extensions !== "";
  }

  /** Bytes Bun has queued. */
  get bufferedAmount(): number {
    return this.#ws.getBufferedAmount();
  }

  /**
   * Sends; resolves when Bun wrote it, or after `drain` when Bun queued it.
   *
   * @param data Text or bytes.
   * @param options `compress: false` skips compression for this message.
   * @returns Resolves when Bun took the bytes.
   */
  send(data: string | Uint8Array, options: SendOptions): Promise<void> {
    return this.#sent(
      this.#ws.send(data as string | Uint8Array<ArrayBuffer>, this.#compress(options)),
    );
  }

  /**
   * Sends a binary message given as an `ArrayBuffer` as it is; see `send`.
   *
   * @param data The bytes.
   * @param options `compress: false` skips compression for this message.
   * @returns Resolves when Bun took the bytes.
   */
  sendBuffer(data: ArrayBuffer, options: SendOptions): Promise<void> {
    return this.#sent(this.#ws.send(data, this.#compress(options)));
  }

  /**
   * Has Bun hand binary messages over as `Uint8Array`s or `ArrayBuffer`s,
   * whichever the socket's consumer takes as it is. In JavaScriptCore both
   * conversions cost: an `ArrayBuffer` message is ~8% fewer echoes/s than a
   * `Uint8Array` at 1 KiB, and reading a view's `buffer` ~28% (bench/README.md).
   *
   * @param views `true` for views.
   */
  preferViews(views: boolean): void {
    this.#ws.binaryType = views ? "uint8array" : "arraybuffer";
  }

  /** Bun's `compress` argument: only with permessage-deflate on, and then unless refused. */
  #compress(options: SendOptions): boolean {
    return this.#deflate && options.compress !== false;
  }

  #sent(sent: number): Promise<void> {
    if (sent > 0) return RESOLVED;
    if (sent === 0) {
      // Bun drops what is sent on a socket that is no longer open; asking
      // first would cost a native call on every send.
      if (this.#ws.readyState !== 1) return notOpen();
      return Promise.reject(
        new WebSocketError("WS_ERR_CONNECTION_LOST", "Bun dropped the message", {
          closeCode: 1006,
        }),
      );
    }
    const { promise, resolve, reject } = withResolvers<void>();
    this.#waiting.push({ resolve, reject });
    return promise;
  }

  /**
   * Sends a Ping.
   *
   * @param payload The payload.
   */
  ping(payload: Uint8Array): void {
    this.#ws.ping(payload as Uint8Array<ArrayBuffer>);
  }

  /**
   * Starts the closing handshake.
   *
   * @param closeCode The code, or none.
   * @param reason The reason.
   * @throws {RangeError} For a code RFC 6455 §7.4 does not allow, or a reason over 123 bytes.
   */
  close(closeCode: number | undefined, reason: string): void {
    encodeClosePayload(closeCode, reason);
    if (closeCode === undefined) this.#ws.close();
    else this.#ws.close(closeCode, reason);
  }

  /** No-op: Bun cannot pause reading a `ServerWebSocket`. */
  setReading(_reading: boolean): void {}

  /**
   * Drops the connection.
   *
   * @param error Why, reported as the socket's error.
   */
  terminate(error?: WebSocketError): void {
    if (error) this.events.error(error);
    this.#ws.terminate();
  }

  /** Bun's queue emptied: resolve the sends waiting for it. */
  drained(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const { resolve } of waiting) resolve();
  }

  /** The connection closed: reject the sends still waiting. */
  closed(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const { reject } of waiting) {
      reject(new WebSocketError("WS_ERR_NOT_OPEN", "WebSocket is not open"));
    }
  }
}

const BUN_DEFLATE_ANSWER =
  "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

/**
 * Runs the handshake policy on a `Bun.serve` request and upgrades it; the
 * socket goes to `options.onSocket` once open. The server's `websocket` must
 * be a {@linkcode createBunWebSocketHandler} handler.
 *
 * @param request The request.
 * @param server Bun's server (`fetch`'s second argument).
 * @param options Handshake policy, heartbeat, idle timeout, and `onSocket`.
 * @returns `undefined` after an upgrade, the rejection `Response`, or `null`
 * for a request that is no upgrade at all.
 *
 * @example Refusing a foreign origin (a stand-in server, so it runs anywhere)
 * ```ts
 * import { upgradeBunRequest } from "@edgesocket/core/bun";
 * import assert from "node:assert/strict";
 *
 * const request = new Request("http://localhost/", {
 *   headers: { Upgrade: "websocket", Connection: "Upgrade", Host: "localhost",
 *     Origin: "https://evil.example", "Sec-WebSocket-Version": "13",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" },
 * });
 * const response = await upgradeBunRequest(request, { upgrade: () => true }, {
 *   origins: ["https://chat.example"],
 *   onSocket: () => {},
 * });
 * assert.equal(response?.status, 403);
 * ```
 */
export async function upgradeBunRequest(
  request: Request,
  server: BunServer,
  options: BunUpgradeOptions,
): Promise<Response | undefined | null> {
  if (request.headers.get("upgrade") === null) return null;
  const decision = await negotiateUpgrade(request, options);
  if (!decision.accepted) return rejectionResponse(decision);
  const headers = new Headers();
  for (const [name, value] of customHeaders(decision)) headers.append(name, value);
  if (decision.protocol !== "") headers.set("sec-websocket-protocol", decision.protocol);
  let extensions = "";
  if ((options.perMessageDeflate ?? false) !== false) {
    const offers = parseExtensions(request.headers.get("sec-websocket-extensions") ?? "");
    if (offers.some((offer) => offer.name === "permessage-deflate")) {
      extensions = BUN_DEFLATE_ANSWER;
    }
  }
  const { onSocket, perMessageDeflate: _deflate, ...socketOptions } = options;
  const data: BunSocketData = {
    request,
    protocol: decision.protocol,
    extensions,
    onSocket,
    socketOptions,
  };
  if (server.upgrade(request, { headers, data })) return undefined;
  return new Response("WebSocket upgrade failed", { status: 400 });
}

/**
 * The `websocket` handlers for `Bun.serve`: each connection upgraded by
 * {@linkcode upgradeBunRequest} becomes an `EdgeSocket`. Bun's own pings and
 * idle close are off (heartbeat and idle timeout are the socket's).
 *
 * @param options Bun's compression and size limit.
 * @returns The object to pass as `Bun.serve({ websocket })`.
 *
 * @example Settings
 * ```ts
 * import { createBunWebSocketHandler } from "@edgesocket/core/bun";
 * import assert from "node:assert/strict";
 *
 * const websocket = createBunWebSocketHandler({ perMessageDeflate: true });
 * assert.equal(websocket.sendPings, false);
 * ```
 */
export function createBunWebSocketHandler(options: BunHandlerOptions = {}): BunWebSocketHandler {
  const { perMessageDeflate = false, maxPayloadLength } = options;
  return {
    perMessageDeflate,
    ...(maxPayloadLength === undefined ? {} : { maxPayloadLength }),
    idleTimeout: 0,
    sendPings: false,
    open(ws) {
      // The message's own ArrayBuffer, what `event.data` is by default, until
      // the socket asks for views (`preferViews`). Never a Node Buffer: in
      // JavaScriptCore, reading a view's `buffer` allocates.
      ws.binaryType = "arraybuffer";
      const { data } = ws;
      const socket = new EdgeSocket(data.request.url, (events) => {
        data.driver = new BunSocketDriver(ws, events);
        return data.driver;
      }, data.socketOptions);
      data.driver!.events.open(data.protocol, data.extensions);
      data.onSocket(socket, data.request);
    },
    message(ws, message) {
      // Not copied: Bun hands each message over in memory of its own (never
      // reused after the handler returns).
      ws.data.driver?.events.message(message);
    },
    pong(ws, payload) {
      ws.data.driver?.events.pong(new Uint8Array(payload));
    },
    drain(ws) {
      ws.data.driver?.drained();
    },
    close(ws, code, reason) {
      const driver = ws.data.driver;
      if (!driver) return;
      driver.closed();
      // Bun reports 1006 when no Close frame arrived (RFC 6455 §7.1.5).
      driver.events.close({ closeCode: code, reason, wasClean: code !== 1006 });
    },
  };
}

/**
 * Builds the upgrade helper and the `websocket` handlers for `Bun.serve`.
 *
 * @param options Handshake policy, Bun's limits and compression, our
 * heartbeat and idle timeout, and `onSocket`.
 * @returns `upgrade` for `fetch` and `websocket` for `Bun.serve`.
 *
 * @example With Bun.serve (a stand-in server here, so the example runs anywhere)
 * ```ts
 * import { createBunWebSocket } from "@edgesocket/core/bun";
 * import assert from "node:assert/strict";
 *
 * const ws = createBunWebSocket({
 *   origins: ["https://chat.example"],
 *   onSocket: (socket) => socket.onmessage = (event) => socket.send(event.data),
 * });
 * // Bun.serve({ fetch: async (req, server) => (await ws.upgrade(req, server)) ?? new Response("hi"),
 * //             websocket: ws.websocket });
 * const server = { upgrade: () => true };
 * const plain = await ws.upgrade(new Request("http://localhost/"), server);
 * assert.equal(plain, null);
 * const request = new Request("http://localhost/", {
 *   headers: { Upgrade: "websocket", Connection: "Upgrade", Host: "localhost",
 *     Origin: "https://evil.example", "Sec-WebSocket-Version": "13",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" },
 * });
 * assert.equal((await ws.upgrade(request, server))?.status, 403);
 * ```
 */
export function createBunWebSocket(options: BunWebSocketOptions): BunWebSocket {
  const { maxPayloadLength: _max, ...upgradeOptions } = options;
  return {
    upgrade: (request, server) => upgradeBunRequest(request, server, upgradeOptions),
    websocket: createBunWebSocketHandler(options),
  };
}
