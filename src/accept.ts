/**
 * Server entry points over a raw byte duplex: {@linkcode acceptWebSocket} when
 * the HTTP request was already parsed (e.g. node:http's `upgrade` event), and
 * {@linkcode upgradeConnection} when the duplex still holds the request head
 * (e.g. a `Deno.listen` connection).
 *
 * @module
 */

import { type ByteDuplex, CodecDriver, type ConnectionOptions } from "./connection.ts";
import {
  type DeflateOptions,
  detectDeflateFlush,
  negotiateDeflate,
  PERMESSAGE_DEFLATE,
  PerMessageDeflate,
} from "./deflate.ts";
import { WebSocketError } from "./errors.ts";
import { negotiateUpgrade, type ServerHandshakeOptions, type UpgradeRequest } from "./handshake.ts";
import { readRequestHead, requestFromHead, writeResponseHead } from "./http_head.ts";
import { EdgeSocket, type SocketOptions } from "./socket.ts";

/** Options for the server side of a codec-backed connection. */
export interface AcceptOptions extends ServerHandshakeOptions, ConnectionOptions, SocketOptions {
  /**
   * Accept permessage-deflate (RFC 7692) when the client offers it: `true`
   * for the defaults, or settings. Default `false`. `maxMessageSize` limits
   * the inflated size. Offers of other extensions still go to `extensions`.
   */
  perMessageDeflate?: boolean | DeflateOptions;
}

/** Options for {@linkcode acceptWebSocket}. */
export interface AcceptWebSocketOptions extends AcceptOptions {
  /** Bytes that arrived after the request head (node:http's `head`); they are frames. */
  head?: Uint8Array;
}

/** Options for {@linkcode upgradeConnection}. */
export interface UpgradeConnectionOptions extends AcceptOptions {
  /** Largest request head accepted, in bytes (431 beyond). Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Ms allowed for the request head to arrive. Default 10000. */
  handshakeTimeout?: number;
  /** The scheme the connection arrived on, for the request URL. Default `"http"`. */
  scheme?: "http" | "https";
}

/**
 * Completes the opening handshake for a parsed upgrade request over a raw
 * duplex and returns the open socket. A rejected handshake is answered on
 * the duplex (400, 403, 426, or the `authorize` hook's response), the duplex
 * closed, and the returned promise rejects with the {@linkcode WebSocketError}.
 *
 * @param request The upgrade request (a `Request` or anything with `method`, `url`, `headers`).
 * @param duplex The connection's bytes, just after the request head.
 * @param options Handshake policy, limits and timeouts.
 * @returns The open socket.
 * @throws {WebSocketError} `WS_ERR_INVALID_HANDSHAKE` or `WS_ERR_HANDSHAKE_REJECTED`, with `status`.
 *
 * @example Over an in-memory duplex
 * ```ts
 * import { acceptWebSocket, createDuplexPair } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const [serverSide, clientSide] = createDuplexPair();
 * const request = new Request("http://localhost/chat", {
 *   headers: {
 *     Host: "localhost",
 *     Upgrade: "websocket",
 *     Connection: "Upgrade",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "Sec-WebSocket-Version": "13",
 *     "Sec-WebSocket-Protocol": "chat, superchat",
 *   },
 * });
 * const socket = await acceptWebSocket(request, serverSide, { protocols: ["chat"] });
 * assert.equal(socket.protocol, "chat");
 * const reader = clientSide.readable.getReader();
 * const { value } = await reader.read();
 * assert.match(new TextDecoder().decode(value), /^HTTP\/1\.1 101 /);
 * socket.terminate();
 * ```
 */
export async function acceptWebSocket(
  request: UpgradeRequest,
  duplex: ByteDuplex,
  options: AcceptWebSocketOptions = {},
): Promise<EdgeSocket> {
  return await answer(request, duplex, undefined, undefined, options.head, options);
}

/**
 * Reads the HTTP/1.1 request head from a raw connection, completes the
 * opening handshake and returns the open socket. Bad or oversized heads get
 * 400/431, rejected handshakes their status; the connection is then closed
 * and the promise rejects with the {@linkcode WebSocketError}.
 *
 * @param duplex A fresh connection (e.g. a `Deno.Conn`).
 * @param options Handshake policy, limits and timeouts.
 * @returns The open socket.
 * @throws {WebSocketError} `WS_ERR_INVALID_HANDSHAKE`, `WS_ERR_HEADERS_TOO_LARGE`,
 * `WS_ERR_HANDSHAKE_REJECTED` or `WS_ERR_HANDSHAKE_TIMEOUT`.
 *
 * @example Over an in-memory duplex
 * ```ts
 * import { createDuplexPair, upgradeConnection } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const [serverSide, clientSide] = createDuplexPair();
 * const writer = clientSide.writable.getWriter();
 * await writer.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
 * await assert.rejects(upgradeConnection(serverSide), { status: 400 });
 * ```
 */
export async function upgradeConnection(
  duplex: ByteDuplex,
  options: UpgradeConnectionOptions = {},
): Promise<EdgeSocket> {
  const reader = duplex.readable.getReader();
  // With direct calls the socket writes through them (no writer is acquired).
  const writer = duplex.direct === undefined ? duplex.writable.getWriter() : undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new WebSocketError("WS_ERR_HANDSHAKE_TIMEOUT", "Request head not received in time", {
            closeCode: 1006,
            status: 408,
          }),
        );
      }, options.handshakeTimeout ?? 10_000);
    });
    const reading = readRequestHead(reader, { maxHeaderBytes: options.maxHeaderBytes })
      .catch((error: unknown) => {
        if (error instanceof WebSocketError) throw error;
        // The transport failed under the head (a reset, a TLS handshake the
        // client aborted): a lost connection, not a bug (RFC 6455 §7.1.5).
        throw new WebSocketError(
          "WS_ERR_CONNECTION_LOST",
          "Connection lost before the request head",
          {
            closeCode: 1006,
            cause: error,
          },
        );
      });
    const { head, rest } = await Promise.race([reading, timeout]);
    clearTimeout(timer);
    const request = requestFromHead(head, { scheme: options.scheme });
    return await answer(request, duplex, writer, reader, rest, options);
  } catch (error) {
    clearTimeout(timer);
    if (error instanceof WebSocketError && error.status !== undefined && !isAnswered(error)) {
      await writeAndClose(duplex, writer, reader, {
        status: error.status,
        headers: new Headers({ "content-type": "text/plain; charset=utf-8" }),
        body: error.message,
      });
    } else if (error instanceof WebSocketError && error.code === "WS_ERR_CONNECTION_LOST") {
      // Nothing can be answered: release the transport.
      await reader.cancel().catch(() => {});
      await (writer ?? duplex.writable.getWriter()).abort().catch(() => {});
    }
    throw error;
  }
}

const answered = new WeakSet<WebSocketError>();

function isAnswered(error: WebSocketError): boolean {
  return answered.has(error);
}

async function answer(
  request: UpgradeRequest,
  duplex: ByteDuplex,
  writer: WritableStreamDefaultWriter<Uint8Array> | undefined,
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined,
  head: Uint8Array | undefined,
  options: AcceptOptions,
): Promise<EdgeSocket> {
  let deflate: PerMessageDeflate | undefined;
  let handshakeOptions: AcceptOptions = options;
  const deflateOptions = options.perMessageDeflate === true ? {} : options.perMessageDeflate;
  if (deflateOptions) {
    const flushPerWrite = await detectDeflateFlush();
    const other = options.extensions;
    handshakeOptions = {
      ...options,
      extensions: async (offers, req) => {
        const rest = offers.filter((o) => o.name.toLowerCase() !== PERMESSAGE_DEFLATE);
        const agreed = negotiateDeflate(offers, deflateOptions, flushPerWrite);
        const answers = other && rest.length > 0 ? await other(rest, req) : undefined;
        if (agreed) {
          deflate = new PerMessageDeflate({
            role: "server",
            params: agreed.params,
            flushPerWrite,
            threshold: deflateOptions.threshold,
          });
        }
        return [agreed?.response, answers].filter((a) => a).join(", ") || undefined;
      },
    };
  }
  const decision = await negotiateUpgrade(request, handshakeOptions);
  if (!decision.accepted) {
    answered.add(decision.error);
    await writeAndClose(duplex, writer, reader, decision);
    throw decision.error;
  }
  let driver: CodecDriver | undefined;
  const socket = new EdgeSocket(request.url, (events) => {
    driver = new CodecDriver({ ...options, role: "server" }, events);
    return driver;
  }, options);
  driver!.attach(duplex, reader, writer, head);
  driver!.writePreamble(writeResponseHead(decision));
  driver!.open(decision.protocol, decision.extensions, decision.accepted ? deflate : undefined);
  return socket;
}

/** Answers with `response` and closes, through the writer and reader given or new ones. */
async function writeAndClose(
  duplex: ByteDuplex,
  writer: WritableStreamDefaultWriter<Uint8Array> | undefined,
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined,
  response: { status: number; statusText?: string; headers: Headers; body?: string },
): Promise<void> {
  writer ??= duplex.writable.getWriter();
  reader ??= duplex.readable.getReader();
  await writer.write(writeResponseHead(response)).catch(() => {});
  await writer.close().catch(() => {});
  await reader.cancel().catch(() => {});
}
