/**
 * Deno adapters.
 *
 * - {@linkcode upgradeWebSocket} for `Deno.serve`: our handshake policy
 *   (origins, subprotocols, `authorize`, custom headers) decides, Deno frames
 *   with its native WebSocket. Deno's native server socket cannot send a Ping
 *   (so `ping()` is absent from the returned type), has no send backpressure,
 *   only sends close codes 1000 and 3000–4999, negotiates no compression, and
 *   drops (1006, no Close frame) any message of 64 MiB or more.
 * - {@linkcode listen} for `Deno.listen` / `Deno.listenTls`: our codec frames
 *   the raw connection; every feature is there.
 *
 * @module
 */

import { upgradeConnection, type UpgradeConnectionOptions } from "../accept.ts";
import { type ByteDuplex, type DirectTransport, readableOf, writableOf } from "../connection.ts";
import { WebSocketError } from "../errors.ts";
import { negotiateUpgrade, rejectionResponse } from "../handshake.ts";
import { type ShutdownOptions, SocketRegistry } from "../server.ts";
import { EdgeSocket, type SocketCapabilities } from "../socket.ts";
export { dialDeno } from "./_deno_dial.ts";
export { connect, type ConnectOptions } from "../connect.ts";

import {
  customHeaders,
  type NativeUpgradeOptions,
  type PinglessEdgeSocket,
  StandardSocketDriver,
} from "./_native.ts";
export type { NativeUpgradeOptions } from "./_native.ts";

/**
 * What a `Deno.serve` socket can do: Deno's native server WebSocket exposes
 * no `ping()`, no backpressure, the WHATWG close-code range only, and no
 * permessage-deflate.
 */
export const DENO_NATIVE_CAPABILITIES: SocketCapabilities = Object.freeze({
  ping: false,
  backpressure: false,
  compression: false,
  anyCloseCode: false,
});

/**
 * The socket {@linkcode upgradeWebSocket} returns: an `EdgeSocket` without
 * `ping()`, because Deno's native server socket cannot send a Ping.
 */
export type DenoNativeSocket = PinglessEdgeSocket;

/** Options for {@linkcode upgradeWebSocket}. */
export interface DenoUpgradeOptions extends NativeUpgradeOptions {
  /**
   * Deno's own heartbeat (its `idleTimeout`): after `interval` ms without any
   * frame from the peer Deno sends a Ping, and when nothing arrives within
   * another `interval` ms it closes with 1001 (`WS_ERR_PONG_TIMEOUT`). Deno
   * counts whole seconds, so `interval` is rounded up to a multiple of 1000.
   * `false` turns it off. Default: Deno's default, a Ping after 15 s idle.
   */
  heartbeat?: { interval: number } | false;
}

/** The outcome of {@linkcode upgradeWebSocket}: return `response` from the handler either way. */
export type DenoUpgradeResult =
  | {
    /** The socket; it opens once `response` is returned. */
    socket: DenoNativeSocket;
    /** Deno's 101, with the custom headers added. */
    response: Response;
  }
  | {
    /** No socket: the handshake was refused. */
    socket: null;
    /** The rejection (400, 403, 405, 426, or the `authorize` hook's response). */
    response: Response;
    /** Why, with the HTTP `status`. */
    error: WebSocketError;
  };

/**
 * Upgrades a `Deno.serve` request, like `Deno.upgradeWebSocket`, after our
 * handshake policy accepted it. The policy's custom headers (e.g.
 * `Set-Cookie`) are added to Deno's 101. Return `response` from the handler
 * in both outcomes.
 *
 * @param request The request `Deno.serve` handed to the handler.
 * @param options Handshake policy, Deno's heartbeat, idle timeout, stream sizes.
 * @returns The socket and Deno's 101, or `socket: null` and the rejection.
 * @throws {TypeError} From `negotiateUpgrade`: a policy hook answered invalidly.
 *
 * @example Accepting chat clients from one origin
 * ```ts
 * import { upgradeWebSocket } from "@edgesocket/core/deno";
 * import assert from "node:assert/strict";
 *
 * const request = new Request("http://localhost/chat", {
 *   headers: { Upgrade: "websocket", Connection: "Upgrade", Host: "localhost",
 *     Origin: "https://evil.example", "Sec-WebSocket-Version": "13",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" },
 * });
 * const { socket, response } = await upgradeWebSocket(request, {
 *   origins: ["https://chat.example"],
 * });
 * assert.equal(socket, null);
 * assert.equal(response.status, 403);
 * ```
 */
export async function upgradeWebSocket(
  request: Request,
  options: DenoUpgradeOptions = {},
): Promise<DenoUpgradeResult> {
  const decision = await negotiateUpgrade(request, options);
  if (!decision.accepted) {
    return { socket: null, response: rejectionResponse(decision), error: decision.error };
  }
  const { heartbeat, ...socketOptions } = options;
  const native = Deno.upgradeWebSocket(request, {
    idleTimeout: heartbeat === undefined ? undefined : heartbeat === false
      ? 0
      // Deno pings after idleTimeout/2 idle and closes after idleTimeout.
      : 2 * Math.ceil(heartbeat.interval / 1000),
  });
  const { headers } = native.response;
  for (const [name, value] of customHeaders(decision)) headers.append(name, value);
  // The subprotocol goes on the 101 here rather than through Deno's
  // `protocol` option: Deno splits the offer on ", " exactly and throws for a
  // protocol it did not find that way, though RFC 9110 §5.6.1 allows any
  // whitespace around the commas (`ws` sends "a,b").
  if (decision.protocol !== "") headers.set("sec-websocket-protocol", decision.protocol);
  const socket = new EdgeSocket(
    request.url,
    (events) =>
      new StandardSocketDriver(native.socket, events, DENO_NATIVE_CAPABILITIES, decision.protocol),
    { ...socketOptions, heartbeat: undefined },
  );
  return { socket, response: native.response };
}

/** Bytes per read while the request head arrives (heads are usually well under 1 KiB). */
const HEAD_READ_SIZE = 2048;

/**
 * The connection's own calls, so no `WritableStream` is built per socket and
 * output buffers are reused once `write` resolves (Deno has copied them or
 * handed them to the OS by then). `read` uses small buffers: it only serves
 * the request head (frames are read through `conn.read` into buffers sized
 * to the traffic).
 */
function directCalls(conn: Deno.Conn): DirectTransport {
  const writeAll = async (chunk: Uint8Array): Promise<void> => {
    for (let done = 0; done < chunk.length;) {
      done += await conn.write(done === 0 ? chunk : chunk.subarray(done));
    }
  };
  // `conn.write` may write part of a chunk; concurrent calls would interleave.
  let last: Promise<void> = Promise.resolve();
  /** Runs `job` after every write queued before it. */
  const queue = (job: () => Promise<void>): Promise<void> => {
    const written = last.then(job);
    last = written.catch(() => {});
    return written;
  };
  return {
    async read(): Promise<Uint8Array | null> {
      const buffer = new Uint8Array(HEAD_READ_SIZE);
      const n = await conn.read(buffer);
      return n === null ? null : buffer.subarray(0, n);
    },
    write(chunk: Uint8Array): Promise<void> {
      return queue(() => writeAll(chunk));
    },
    // Deno has no gathered write: one write per chunk, behind one promise.
    writeMany(chunks: Uint8Array[]): Promise<void> {
      return queue(async () => {
        for (const chunk of chunks) await writeAll(chunk);
      });
    },
    async end(): Promise<void> {
      await last;
      await conn.closeWrite();
    },
    destroy(): void {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    },
  };
}

/** Options for {@linkcode listen}. */
export interface DenoListenOptions extends UpgradeConnectionOptions {
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to bind. Default `0.0.0.0`. */
  hostname?: string;
  /** PEM certificate chain: with `key`, listens with TLS (`wss:`). */
  cert?: string;
  /** PEM private key, with `cert`. */
  key?: string;
  /** Called with each open socket. */
  onSocket: (socket: EdgeSocket) => void | Promise<void>;
  /** Called when a handshake fails (the client already got its 4xx); default: ignored. */
  onError?: (error: WebSocketError) => void;
  /** Called once listening. */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** A running {@linkcode listen} server. */
export interface DenoWebSocketServer extends AsyncDisposable {
  /** The bound address (read `port` after listening on port 0). */
  readonly addr: Deno.NetAddr;
  /** The open sockets. */
  readonly sockets: SocketRegistry;
  /** Resolves once the server stopped accepting and every socket closed. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting, drops connections still in their handshake, sends 1001
   * to every socket, waits up to `drainTimeout` ms, then terminates the rest.
   *
   * @param options Close code, reason and drain deadline.
   * @returns Resolves when no socket is left.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/**
 * A WebSocket server on a raw `Deno.listen` (or, with `cert` and `key`,
 * `Deno.listenTls`) socket, framed by this library's codec: pings,
 * backpressure, every close code, limits and timeouts all work. Every
 * connection must send its request head within `handshakeTimeout` ms
 * (default 10000), else it gets 408 and is closed.
 *
 * @param options Address, TLS, handshake policy, limits, and `onSocket`.
 * @returns The running server.
 *
 * @example An echo server
 * ```ts
 * import { listen } from "@edgesocket/core/deno";
 * import assert from "node:assert/strict";
 *
 * await using server = listen({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   onSocket: (socket) => {
 *     socket.onmessage = (event) => socket.send(event.data);
 *   },
 * });
 * assert.ok(server.addr.port > 0);
 * ```
 */
export function listen(options: DenoListenOptions): DenoWebSocketServer {
  const { port = 8080, hostname = "0.0.0.0", cert, key } = options;
  const tls = cert !== undefined && key !== undefined;
  const listener: Deno.Listener = tls
    ? Deno.listenTls({ port, hostname, cert, key, transport: "tcp" })
    : Deno.listen({ port, hostname, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  const sockets = new SocketRegistry();
  const pending = new Set<Deno.Conn>();
  const upgradeOptions: UpgradeConnectionOptions = { ...options, scheme: tls ? "https" : "http" };
  const handles = new Set<Promise<void>>();
  options.onListen?.(addr);

  const handle = async (conn: Deno.Conn): Promise<void> => {
    pending.add(conn);
    let socket: EdgeSocket;
    try {
      // `conn.readable` reads into a fresh 64 KiB buffer every time, which an
      // idle socket pins and every handshake leaves behind. The head is read
      // through small buffers instead, and frames through `readInto` into
      // buffers sized to the traffic.
      const direct = directCalls(conn);
      let writable: WritableStream<Uint8Array> | undefined;
      const duplex: ByteDuplex = {
        // Reads only on demand (high-water mark 0): never ahead of `readInto`.
        readable: readableOf(direct),
        get writable(): WritableStream<Uint8Array> {
          return writable ??= writableOf(direct);
        },
        readInto: (buffer) => conn.read(buffer),
        direct,
      };
      socket = await upgradeConnection(duplex, upgradeOptions);
    } catch (error) {
      options.onError?.(
        error instanceof WebSocketError
          ? error
          : new WebSocketError("WS_ERR_INTERNAL", "Handshake failed", { cause: error }),
      );
      return;
    } finally {
      pending.delete(conn);
    }
    sockets.add(socket);
    // Not awaited: `onSocket` may serve the socket for its whole life, and
    // shutdown waits only for handshakes.
    Promise.resolve().then(() => options.onSocket(socket)).catch((error) => {
      // An application error must not leave a socket half served.
      socket.close(1011);
      options.onError?.(
        new WebSocketError("WS_ERR_INTERNAL", "onSocket threw", { closeCode: 1011, cause: error }),
      );
    });
  };

  const accepting = (async () => {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // Listener closed.
      }
      if (sockets.closing) {
        conn.close();
        continue;
      }
      if (!tls) (conn as Deno.TcpConn).setNoDelay(true);
      const done = handle(conn);
      handles.add(done);
      done.finally(() => handles.delete(done));
    }
  })();

  let stopping: Promise<void> | undefined;
  const shutdown = (shutdownOptions: ShutdownOptions = {}): Promise<void> => {
    stopping ??= (async () => {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      await accepting;
      for (const conn of pending) {
        try {
          conn.close();
        } catch {
          // Closed by the handshake meanwhile.
        }
      }
      await Promise.all(handles);
      await sockets.shutdown(shutdownOptions);
    })();
    return stopping;
  };

  const finished = (async () => {
    await accepting;
    await Promise.all(handles);
    await shutdown();
  })();

  return {
    addr,
    sockets,
    finished,
    shutdown,
    [Symbol.asyncDispose]: () => shutdown(),
  };
}
