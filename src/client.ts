/**
 * The client side over a byte duplex: writes the upgrade request, verifies
 * the 101, then frames. Dialers (`connect()` in the runtime adapters) supply
 * the duplex.
 *
 * @module
 */

import { type ByteDuplex, CodecDriver, type ConnectionOptions } from "./connection.ts";
import {
  acceptDeflateResponse,
  deflateOffer,
  type DeflateOptions,
  detectDeflateFlush,
  PERMESSAGE_DEFLATE,
  PerMessageDeflate,
} from "./deflate.ts";
import { WebSocketError } from "./errors.ts";
import {
  type ClientHandshakeOptions,
  createClientHandshake,
  parseExtensions,
  verifyServerHandshake,
} from "./handshake.ts";
import { readResponseHead, writeRequestHead } from "./http_head.ts";
import { EdgeSocket, type SocketOptions } from "./socket.ts";

/** Options for the client side of a codec-backed connection. */
export interface ClientOptions
  extends Omit<ClientHandshakeOptions, "random">, ConnectionOptions, SocketOptions {
  /** Ms allowed from the start of the dial to the 101. Default 10000. */
  handshakeTimeout?: number;
  /** Largest response head accepted, in bytes. Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Aborts the opening handshake. */
  signal?: AbortSignal;
  /**
   * Offer permessage-deflate (RFC 7692): `true` for the defaults, or
   * settings. Default `false`. `maxMessageSize` limits the inflated size.
   */
  perMessageDeflate?: boolean | DeflateOptions;
}

/**
 * Opens a client WebSocket over a byte duplex (or a promise of one, e.g. a
 * TCP dial in progress). Returns at once, in CONNECTING; `opened` resolves
 * (and `open` fires) after a valid 101, else `opened` rejects with a
 * {@linkcode WebSocketError} carrying the HTTP status and the socket closes
 * with 1006.
 *
 * @param url The `ws:` or `wss:` URL (used for the request line and `Host`).
 * @param duplex The transport, or a promise of it.
 * @param options Subprotocols, headers, limits, timeouts and an abort signal.
 * @returns The socket, still connecting.
 * @throws {DOMException} `SyntaxError` for a bad URL or subprotocol list, as browsers do.
 *
 * @example Against an in-memory server
 * ```ts
 * import { createDuplexPair, openWebSocket, upgradeConnection } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const [clientSide, serverSide] = createDuplexPair();
 * const accepting = upgradeConnection(serverSide, { protocols: ["chat"] });
 * const client = openWebSocket("ws://localhost/", clientSide, { protocols: ["superchat", "chat"] });
 * const { protocol } = await client.opened;
 * assert.equal(protocol, "chat");
 * const server = await accepting;
 * client.close(1000, "bye");
 * assert.deepEqual(await server.closed, { closeCode: 1000, reason: "bye" });
 * ```
 */
export function openWebSocket(
  url: string | URL,
  duplex: ByteDuplex | Promise<ByteDuplex>,
  options: ClientOptions = {},
): EdgeSocket {
  const handshake = createClientHandshake(url, { ...options, random: options.random });
  const deflateOptions = options.perMessageDeflate === true
    ? {}
    : options.perMessageDeflate || undefined;
  if (deflateOptions) {
    deflateOffer(deflateOptions, true); // throws now for invalid settings
    const offered = options.extensions ? parseExtensions(options.extensions) : [];
    if (offered.some((e) => e.name.toLowerCase() === PERMESSAGE_DEFLATE)) {
      throw new TypeError("Offer permessage-deflate with perMessageDeflate, not in extensions");
    }
  }
  let driver: CodecDriver | undefined;
  const socket = new EdgeSocket(handshake.url.href, (events) => {
    driver = new CodecDriver({ ...options, role: "client" }, events);
    return driver;
  }, options);
  run(driver!).catch((error) => {
    driver!.failHandshake(
      error instanceof WebSocketError ? error : new WebSocketError(
        options.signal?.aborted ? "WS_ERR_ABORTED" : "WS_ERR_CONNECTION_LOST",
        options.signal?.aborted ? "Opening handshake aborted" : "Could not connect",
        { closeCode: 1006, cause: error },
      ),
    );
  });
  return socket;

  async function run(driver: CodecDriver): Promise<void> {
    const { signal } = options;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new WebSocketError("WS_ERR_HANDSHAKE_TIMEOUT", "Opening handshake timed out", {
            closeCode: 1006,
          }),
        );
      }, options.handshakeTimeout ?? 10_000);
      signal?.addEventListener("abort", () => {
        reject(
          new WebSocketError("WS_ERR_ABORTED", "Opening handshake aborted", {
            closeCode: 1006,
            cause: signal.reason,
          }),
        );
      }, { once: true });
      if (signal?.aborted) {
        reject(
          new WebSocketError("WS_ERR_ABORTED", "Opening handshake aborted", { closeCode: 1006 }),
        );
      }
    });
    stop.catch(() => {});
    let transport: ByteDuplex | undefined;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
    try {
      transport = await Promise.race([duplex, stop]);
      reader = transport.readable.getReader();
      writer = transport.writable.getWriter();
      const flushPerWrite = deflateOptions ? await detectDeflateFlush() : false;
      if (deflateOptions) {
        const offer = deflateOffer(deflateOptions, flushPerWrite);
        handshake.request.headers.set(
          "sec-websocket-extensions",
          options.extensions ? `${offer}, ${options.extensions}` : offer,
        );
      }
      writer.write(writeRequestHead(handshake.request)).catch(() => {});
      const { head, rest } = await Promise.race([
        readResponseHead(reader, { maxHeaderBytes: options.maxHeaderBytes }),
        stop,
      ]);
      const result = await verifyServerHandshake(head, handshake.key, {
        protocols: options.protocols ?? [],
        extensions: [
          ...(deflateOptions ? [PERMESSAGE_DEFLATE] : []),
          ...(options.extensions ? parseExtensions(options.extensions).map((e) => e.name) : []),
        ],
      });
      // RFC 7692 §7.1: an invalid permessage-deflate response fails the connection.
      const params = deflateOptions
        ? acceptDeflateResponse(parseExtensions(result.extensions), deflateOptions, flushPerWrite)
        : undefined;
      clearTimeout(timer);
      driver.attach(transport, reader, writer, rest);
      driver.open(
        result.protocol,
        result.extensions,
        params &&
          new PerMessageDeflate({
            role: "client",
            params,
            flushPerWrite,
            threshold: deflateOptions!.threshold,
          }),
      );
    } catch (error) {
      clearTimeout(timer);
      await writer?.abort().catch(() => {});
      await reader?.cancel().catch(() => {});
      if (!transport) {
        // The dial may still complete after a timeout or abort: release it then.
        Promise.resolve(duplex).then((late) => {
          late.writable.abort().catch(() => {});
          late.readable.cancel().catch(() => {});
        }, () => {});
      }
      throw error;
    }
  }
}
