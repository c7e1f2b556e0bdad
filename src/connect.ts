/**
 * The runtime-neutral client entry point: {@linkcode connect} dials a
 * `ws:`/`wss:` URL with the dialer of the runtime it runs on and speaks
 * WebSocket over it with this library's codec.
 *
 * Dialers are loaded with a dynamic `import()` inside {@linkcode connect}, so
 * importing `@edgesocket/core` never loads `node:` modules or touches
 * `Deno`: on Deno the `Deno.connect`/`Deno.connectTls` dialer
 * (`adapters/_deno_dial.ts`) is loaded, elsewhere (Node, Bun) the
 * `node:net`/`node:tls` dialer of `@edgesocket/core/node`. Pass `dial` to
 * use another transport (e.g. Cloudflare's `connect()`).
 *
 * @module
 */

import type { ByteDuplex } from "./connection.ts";
import { type ClientOptions, openWebSocket } from "./client.ts";
import { withResolvers } from "./_promise.ts";
import type { EdgeSocket } from "./socket.ts";

/** What a dialer gets besides the URL. */
export interface DialOptions {
  /** Aborts the dial. */
  signal?: AbortSignal;
  /** Extra trusted CA certificates (PEM) for `wss:`. */
  caCerts?: string[];
}

/**
 * Opens the transport for a `ws:` (TCP) or `wss:` (TLS) URL.
 *
 * @param url The normalised `ws:`/`wss:` URL.
 * @param options Abort signal and TLS trust.
 * @returns The connection's byte duplex.
 */
export type Dialer = (url: URL, options: DialOptions) => Promise<ByteDuplex>;

/** Options for {@linkcode connect}. */
export interface ConnectOptions extends ClientOptions {
  /** Extra trusted CA certificates (PEM) for `wss:` URLs. */
  caCerts?: string[];
  /** The dialer; by default the one of the runtime (Deno, else `node:net`/`node:tls`). */
  dial?: Dialer;
}

/**
 * Connects to a WebSocket server. Returns at once, in CONNECTING; `opened`
 * resolves (and `open` fires) after a valid 101. A failed dial, a refused
 * handshake (its HTTP status is on the error), `handshakeTimeout` or
 * `signal` make `opened` reject with a `WebSocketError` and the socket close
 * with 1006.
 *
 * @param url A `ws:`, `wss:`, `http:` or `https:` URL.
 * @param options Subprotocols, headers, TLS trust, limits, timeouts, abort signal, dialer.
 * @returns The socket, still connecting.
 * @throws {DOMException} `SyntaxError` for a bad URL or subprotocol list, as browsers do.
 *
 * @example Against a server on the same runtime
 * ```ts
 * import { connect, createDuplexPair, openWebSocket, upgradeConnection } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * // An in-memory "network" stands in for TCP here; real code omits `dial`.
 * const [clientSide, serverSide] = createDuplexPair();
 * const accepting = upgradeConnection(serverSide);
 * const client = connect("ws://example.test/", { dial: () => Promise.resolve(clientSide) });
 * await client.opened;
 * const server = await accepting;
 * server.onmessage = (event) => server.send(event.data);
 * await client.send("hello");
 * for await (const message of client) {
 *   assert.equal(message, "hello");
 *   break;
 * }
 * client.close(1000);
 * await client.closed;
 * ```
 */
export function connect(url: string | URL, options: ConnectOptions = {}): EdgeSocket {
  const dialed = withResolvers<ByteDuplex>();
  // Validates the URL first (throws synchronously), so nothing is dialed for a bad one.
  const socket = openWebSocket(url, dialed.promise, options);
  const target = new URL(socket.url);
  const { signal, caCerts } = options;
  (async (): Promise<ByteDuplex> => {
    const dial = options.dial ?? await runtimeDialer();
    return await dial(target, { signal, caCerts });
  })().then(dialed.resolve, dialed.reject);
  return socket;
}

async function runtimeDialer(): Promise<Dialer> {
  if ((globalThis as { Deno?: unknown }).Deno !== undefined) {
    return (await import("./adapters/_deno_dial.ts")).dialDeno;
  }
  return (await import("./adapters/node.ts")).dialNode;
}
