/**
 * edgesocket: a WebSocket library for web-standard runtimes. It implements
 * RFC 6455 itself (handshake, frame codec, closing handshake) over any
 * `ReadableStream`/`WritableStream` byte duplex, with adapters for
 * `Deno.serve`, `Deno.listen`, Bun, Hono and `node:http`.
 *
 * @example Echo over an in-memory pair
 * ```ts
 * import { createWebSocketPair } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const [client, server] = createWebSocketPair();
 * server.onmessage = (event) => server.send(event.data);
 * await client.send("ping?");
 * for await (const message of client) {
 *   assert.equal(message, "ping?");
 *   break;
 * }
 * client.close(1000);
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export { mask } from "./src/mask.ts";
export * from "./src/frame.ts";
export * from "./src/close.ts";
export {
  type CloseInfo,
  DEFAULT_LIMITS,
  type EngineHandler,
  type EngineOptions,
  OWNED_MIN,
  ReadyState,
  releaseOutput,
  REUSE_MIN,
  type SendFrameOptions,
  WebSocketEngine,
} from "./src/engine.ts";
export * from "./src/handshake.ts";
export * from "./src/deflate.ts";
export * from "./src/http_head.ts";
export * from "./src/socket.ts";
export {
  type ByteDuplex,
  CODEC_CAPABILITIES,
  type ConnectionOptions,
  type DirectReceiver,
  type DirectTransport,
} from "./src/connection.ts";
export * from "./src/accept.ts";
export * from "./src/client.ts";
export * from "./src/connect.ts";
export * from "./src/pair.ts";
export * from "./src/server.ts";
export { configureOutputPool, type OutputPoolOptions } from "./src/_pool.ts";
