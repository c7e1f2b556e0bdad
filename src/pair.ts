/**
 * In-memory transports and socket pairs, for tests.
 *
 * @module
 */

import type { ByteDuplex } from "./connection.ts";
import { CodecDriver, type ConnectionOptions } from "./connection.ts";
import { EdgeSocket, type SocketOptions } from "./socket.ts";

/**
 * Two connected in-memory byte duplexes: what one writes, the other reads.
 * Each chunk is copied on the way, as a real transport would; up to 64 KiB
 * may be in flight before writes wait; closing a writable ends the other
 * side's readable.
 *
 * @returns Both ends.
 *
 * @example Bytes cross over
 * ```ts
 * import { createDuplexPair } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = createDuplexPair();
 * const writer = a.writable.getWriter();
 * writer.write(new Uint8Array([1, 2, 3]));
 * const { value } = await b.readable.getReader().read();
 * assert.deepEqual([...value!], [1, 2, 3]);
 * ```
 */
export function createDuplexPair(): [ByteDuplex, ByteDuplex] {
  // Like a kernel socket buffer: up to 64 KiB in flight before writes wait.
  const copy = (): TransformStream<Uint8Array, Uint8Array> =>
    new TransformStream<Uint8Array, Uint8Array>(
      { transform: (chunk, controller) => controller.enqueue(chunk.slice()) },
      undefined,
      new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
    );
  const aToB = copy();
  const bToA = copy();
  return [
    { readable: bToA.readable, writable: aToB.writable },
    { readable: aToB.readable, writable: bToA.writable },
  ];
}

/** Options for {@linkcode createWebSocketPair}. */
export interface WebSocketPairOptions extends ConnectionOptions, SocketOptions {
  /** The subprotocol both sockets report. */
  protocol?: string;
}

/**
 * Two open, connected sockets over an in-memory duplex, framed by this
 * library's codec (client masking included), skipping the HTTP handshake.
 *
 * @param options Limits, timeouts and the reported subprotocol.
 * @returns `[client, server]`.
 *
 * @example Echo
 * ```ts
 * import { createWebSocketPair } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const [client, server] = createWebSocketPair();
 * server.addEventListener("message", (event) => server.send(event.data));
 * client.binaryType = "uint8array";
 * const echoed = new Promise((resolve) => client.onmessage = (event) => resolve(event.data));
 * await client.send(new Uint8Array([1, 2, 3]));
 * assert.deepEqual(await echoed, new Uint8Array([1, 2, 3]));
 * client.close();
 * ```
 */
export function createWebSocketPair(options: WebSocketPairOptions = {}): [EdgeSocket, EdgeSocket] {
  const [clientSide, serverSide] = createDuplexPair();
  const open = (role: "client" | "server", duplex: ByteDuplex): EdgeSocket => {
    let driver: CodecDriver | undefined;
    const socket = new EdgeSocket("ws://in-memory/", (events) => {
      driver = new CodecDriver({ ...options, role }, events);
      return driver;
    }, options);
    driver!.attach(duplex);
    driver!.open(options.protocol ?? "", "");
    return socket;
  };
  return [open("client", clientSide), open("server", serverSide)];
}
