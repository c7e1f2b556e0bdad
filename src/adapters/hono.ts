/**
 * A drop-in for Hono's own `upgradeWebSocket`, the same on every runtime:
 * `app.get("/ws", upgradeWebSocket((c) => ({ onOpen, onMessage, onClose, onError })))`.
 * Our handshake policy (origins, subprotocols, `authorize`, custom headers)
 * decides; the runtime under Hono picks the adapter:
 *
 * - Deno (`Deno.serve(app.fetch)`): `upgradeWebSocket` of `@edgesocket/core/deno`
 *   (Deno frames; no `ping()`).
 * - Bun (`Bun.serve({ fetch: app.fetch, websocket })`): the Bun adapter; pass
 *   this module's {@linkcode websocket} to `Bun.serve`.
 * - Node (`@hono/node-server`): our codec on the raw socket of node:http's
 *   `"upgrade"` event; call {@linkcode injectWebSocket} on the server.
 *
 * `ws.raw` is the `EdgeSocket` (on Deno without `ping()` in its type). Hono
 * is a peer dependency: only this module imports it.
 *
 * @module
 */

import type { Context } from "hono";
import { defineWebSocketHelper, type UpgradeWebSocket, WSContext, type WSEvents } from "hono/ws";
import type { SocketOptions } from "../socket.ts";
import type { NativeUpgradeOptions, PinglessEdgeSocket } from "./_native.ts";
import { type BunServer, createBunWebSocketHandler, upgradeBunRequest } from "./bun.ts";
import type { BunWebSocketHandler } from "./bun.ts";
import { upgradeWebSocket as upgradeDeno } from "./deno.ts";
export type { NativeUpgradeOptions } from "./_native.ts";

export type { UpgradeWebSocket, WSEvents } from "hono/ws";
export { WSContext } from "hono/ws";

/** Options for {@linkcode upgradeWebSocket}: the handshake policy and socket options. */
export interface HonoUpgradeOptions extends NativeUpgradeOptions {
  /** Our heartbeat on Bun and Node (Deno uses its own; see the Deno adapter). */
  heartbeat?: SocketOptions["heartbeat"];
}

/**
 * The socket in `ws.raw`. `ping()` is left out of the type because Deno's
 * native server socket cannot send a Ping; on Bun and Node the object is a
 * full `EdgeSocket` (check `capabilities.ping`).
 */
export type HonoRawSocket = PinglessEdgeSocket;

/** The raw node:http upgrade parts {@linkcode injectWebSocket} passes through `c.env`. */
interface NodeUpgrade {
  // Typed structurally: `node:` types stay in the node adapter.
  req: unknown;
  socket: unknown;
  head: Uint8Array;
  handled: boolean;
}

const NODE_UPGRADE = Symbol("edgesocket.nodeUpgrade");

function wire(socket: HonoRawSocket, events: WSEvents<HonoRawSocket>): void {
  socket.binaryType = "arraybuffer";
  let context: WSContext<HonoRawSocket> | undefined;
  // Built on first use, after open, when the subprotocol is known.
  const ctx = (): WSContext<HonoRawSocket> =>
    context ??= new WSContext<HonoRawSocket>({
      send: (data, options) => {
        socket.send(data, options).catch(() => {});
      },
      close: (code, reason) => socket.close(code, reason),
      raw: socket,
      get readyState() {
        return socket.readyState;
      },
      url: socket.url,
      protocol: socket.protocol,
    });
  const run = (fn: () => unknown): void => {
    try {
      const result = fn();
      if (result instanceof Promise) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
  const fail = (error: unknown): void => {
    // An application error must not leave the connection half served.
    const event = Object.assign(new Event("error"), { error });
    if (events.onError) events.onError(event, ctx());
    socket.close(1011);
  };
  socket.onopen = (event) => run(() => events.onOpen?.(event, ctx()));
  socket.onmessage = (event) => run(() => events.onMessage?.(event, ctx()));
  socket.onerror = (event) => events.onError?.(event, ctx());
  socket.onclose = (event) => run(() => events.onClose?.(event as unknown as CloseEvent, ctx()));
}

function bunServerOf(c: Context): BunServer | undefined {
  const env = c.env as { server?: BunServer; upgrade?: unknown } | undefined;
  const server = env?.server ?? env;
  return typeof (server as BunServer | undefined)?.upgrade === "function"
    ? server as BunServer
    : undefined;
}

/**
 * Hono middleware upgrading to a WebSocket, with Hono's own signature:
 * `upgradeWebSocket((c) => events, options?)` (or `upgradeWebSocket(c, events, options?)`).
 * `options` is our handshake policy: `protocols`, `origins`, `authorize`,
 * `headers` (e.g. `Set-Cookie`), plus heartbeat/idle timeout.
 *
 * @example A Hono app (runs unchanged on Deno, Bun and Node)
 * ```ts
 * import { Hono } from "hono";
 * import { upgradeWebSocket } from "@edgesocket/core/hono";
 * import assert from "node:assert/strict";
 *
 * const app = new Hono();
 * app.get("/ws", upgradeWebSocket(() => ({
 *   onMessage: (event, ws) => ws.send(String(event.data)),
 * }), { origins: ["https://chat.example"] }));
 * const response = await app.request("/ws", {
 *   headers: { Host: "localhost", Upgrade: "websocket", Connection: "Upgrade", Origin: "https://evil.example",
 *     "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" },
 * });
 * assert.equal(response.status, 403);
 * ```
 */
export const upgradeWebSocket: UpgradeWebSocket<HonoRawSocket, HonoUpgradeOptions> =
  defineWebSocketHelper<HonoRawSocket, HonoUpgradeOptions>(async (c, events, options = {}) => {
    if (c.req.header("upgrade") === undefined) return;
    const request = c.req.raw;

    const node = (c.env as Record<symbol, NodeUpgrade | undefined> | undefined)?.[NODE_UPGRADE];
    if (node !== undefined) {
      const { handleUpgrade } = await import("./node.ts");
      node.handled = true;
      type Args = Parameters<typeof handleUpgrade>;
      try {
        const socket = await handleUpgrade(
          node.req as Args[0],
          node.socket as Args[1],
          node.head,
          options,
        );
        wire(socket, events);
      } catch {
        // Answered on the raw socket by handleUpgrade.
      }
      return new Response(null);
    }

    const bun = bunServerOf(c);
    if (bun !== undefined) {
      const response = await upgradeBunRequest(request, bun, {
        ...options,
        onSocket: (socket) => wire(socket, events),
      });
      // After an upgrade Bun ignores the response; Hono needs one.
      return response ?? new Response(null);
    }

    const { heartbeat: _heartbeat, ...denoOptions } = options;
    const { socket, response } = await upgradeDeno(request, denoOptions);
    if (socket) wire(socket, events);
    return response;
  });

/**
 * The `websocket` handlers to pass to `Bun.serve` when the Hono app runs on
 * Bun: `Bun.serve({ fetch: app.fetch, websocket })`. Bun's compression is
 * off; use {@linkcode createBunWebSocketHandler} from `@edgesocket/core/bun`
 * for other settings.
 */
export const websocket: BunWebSocketHandler = createBunWebSocketHandler();

/** The node:http server shape {@linkcode injectWebSocket} needs (structural: no `node:` types here). */
export interface NodeUpgradeServer {
  /** Registers the `"upgrade"` listener. */
  on(
    event: "upgrade",
    // deno-lint-ignore no-explicit-any -- node:http's IncomingMessage and Duplex, kept out of this module
    listener: (req: any, socket: any, head: Uint8Array) => void,
  ): unknown;
}

/** The app's fetch: `app.fetch` of a Hono app. */
export type FetchHandler = (
  request: Request,
  env: Record<symbol, unknown>,
) => Response | Promise<Response>;

/**
 * Routes node:http's `"upgrade"` events (from `@hono/node-server`'s `serve`)
 * through the Hono app, so that {@linkcode upgradeWebSocket} can take the raw
 * socket. An upgrade request that reaches no `upgradeWebSocket` route is
 * answered with the app's status (e.g. 404) and closed.
 *
 * @param server The node:http server.
 * @param fetch The app's `fetch` (`app.fetch`).
 *
 * @example With @hono/node-server
 * ```ts ignore
 * import { serve } from "@hono/node-server";
 * import { injectWebSocket } from "@edgesocket/core/hono";
 *
 * const server = serve({ fetch: app.fetch, port: 8080 });
 * injectWebSocket(server, app.fetch);
 * ```
 */
export function injectWebSocket(server: NodeUpgradeServer, fetch: FetchHandler): void {
  server.on("upgrade", async (req, socket, head) => {
    const { rejectRaw, toUpgradeRequest } = await import("./node.ts");
    let request: Request;
    try {
      const upgrade = toUpgradeRequest(req, socket);
      request = new Request(upgrade.url, { method: upgrade.method, headers: upgrade.headers });
    } catch {
      rejectRaw(socket, 400, "Bad Request");
      return;
    }
    const node: NodeUpgrade = { req, socket, head, handled: false };
    let response: Response;
    try {
      response = await fetch(request, { [NODE_UPGRADE]: node });
    } catch {
      if (!node.handled) rejectRaw(socket, 500, "Internal Server Error");
      return;
    }
    if (!node.handled) rejectRaw(socket, response.status, await response.text());
  });
}
