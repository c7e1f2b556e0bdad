/**
 * What the native-backed adapters (`Deno.serve`, `Bun.serve`) share: the
 * options they take, the headers they copy onto the runtime's 101, the close
 * report of a runtime socket, and a driver over a WHATWG `WebSocket` object
 * (what `Deno.upgradeWebSocket` hands out).
 *
 * @module
 */

import { RESOLVED } from "../_promise.ts";
import type { CloseInfo } from "../engine.ts";
import { WebSocketError } from "../errors.ts";
import type { ServerHandshakeOptions, UpgradeAccepted } from "../handshake.ts";
import type {
  EdgeSocket,
  SendOptions,
  SocketCapabilities,
  SocketDriver,
  SocketEvents,
  SocketOptions,
} from "../socket.ts";

/**
 * Handshake policy and socket options of a native-backed upgrade. The
 * runtime negotiates extensions itself, so there is no `extensions` hook,
 * and heartbeats are the runtime's (see each adapter's `heartbeat`).
 */
export interface NativeUpgradeOptions
  extends Omit<ServerHandshakeOptions, "extensions">, Omit<SocketOptions, "heartbeat"> {}

/**
 * A socket whose runtime cannot send an application Ping (Deno's native
 * server socket): `ping()` is absent from the type. At run time the object is
 * an `EdgeSocket` whose `ping()` rejects with `WS_ERR_UNSUPPORTED` and whose
 * `capabilities.ping` is `false`.
 */
export type PinglessEdgeSocket = Omit<EdgeSocket, "ping">;

// Headers of the 101 that the runtime writes itself.
const HANDSHAKE_HEADERS = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/**
 * The custom headers of an accepted decision (e.g. `Set-Cookie`), without
 * the handshake headers the runtime writes on its own 101.
 *
 * @param decision An accepted decision from `negotiateUpgrade`.
 * @returns Name/value pairs, repeated names (`Set-Cookie`) kept apart.
 */
export function customHeaders(decision: UpgradeAccepted): [string, string][] {
  // Fetch's Headers iteration yields each Set-Cookie on its own (RFC 6265 §3:
  // one cookie per header line), so repeated cookies survive the copy.
  const out: [string, string][] = [];
  for (const [name, value] of decision.headers) {
    if (!HANDSHAKE_HEADERS.has(name)) out.push([name, value]);
  }
  return out;
}

/**
 * Normalises a runtime's close report: runtimes report 0 or nothing when no
 * Close frame arrived, which RFC 6455 §7.1.5 calls 1006.
 *
 * @param code The code the runtime reported.
 * @param reason The reason the runtime reported.
 * @param wasClean Whether the runtime saw a closing handshake.
 * @returns The close info for `SocketEvents.close`.
 */
export function closeInfo(code: number | undefined, reason: string, wasClean: boolean): CloseInfo {
  if (code === undefined || code === 0) return { closeCode: 1006, reason: "", wasClean: false };
  return { closeCode: code, reason, wasClean };
}

/**
 * Maps a runtime's error message to a typed error. Deno's native server
 * reports `Frame too large` past its 64 MiB limit and `No response from ping
 * frame.` when its idle ping got no answer; anything else is a lost connection.
 *
 * @param message The runtime's message.
 * @returns The typed error.
 */
export function nativeError(message: string): WebSocketError {
  if (/too large/i.test(message)) {
    return new WebSocketError("WS_ERR_MESSAGE_TOO_BIG", "Message too big for the runtime", {
      closeCode: 1009,
    });
  }
  if (/ping/i.test(message)) {
    return new WebSocketError("WS_ERR_PONG_TIMEOUT", "No Pong within the heartbeat timeout", {
      closeCode: 1001,
    });
  }
  return new WebSocketError("WS_ERR_CONNECTION_LOST", "Connection lost", { closeCode: 1006 });
}

/**
 * Rejects a send on a socket that is not open.
 *
 * @returns The rejected promise.
 */
export function notOpen(): Promise<never> {
  return Promise.reject(new WebSocketError("WS_ERR_NOT_OPEN", "WebSocket is not open"));
}

/**
 * A driver over a WHATWG `WebSocket` object that the runtime frames (Deno's
 * `Deno.upgradeWebSocket` socket). What such an object cannot do:
 *
 * - send a Ping or see a Pong (`ping: false`);
 * - tell when bytes left (`send` resolves once handed over; `backpressure: false`);
 * - stop reading (`setReading` is a no-op: messages keep coming);
 * - send close codes other than 1000 and 3000–4999 (`anyCloseCode: false`);
 * - drop the connection without a Close frame (`terminate` sends a Close and
 *   reports 1006 at once).
 */
export class StandardSocketDriver implements SocketDriver {
  readonly capabilities: SocketCapabilities;
  #socket: WebSocket;
  #events: SocketEvents;
  #closed = false;
  #pendingClose: [number | undefined, string] | undefined;

  /**
   * Binds the driver to a runtime socket; events start flowing at once.
   *
   * @param socket The runtime's WebSocket (CONNECTING or OPEN).
   * @param events The hooks of the `EdgeSocket` being built.
   * @param capabilities What the runtime's socket can do.
   * @param protocol The subprotocol agreed on, when the runtime's socket does not know it.
   */
  constructor(
    socket: WebSocket,
    events: SocketEvents,
    capabilities: SocketCapabilities,
    protocol?: string,
  ) {
    this.#socket = socket;
    this.#events = events;
    this.capabilities = capabilities;
    socket.binaryType = "arraybuffer";
    const open = (): void => {
      events.open(protocol ?? socket.protocol, socket.extensions);
      const pending = this.#pendingClose;
      if (pending) this.close(pending[0], pending[1]);
    };
    if (socket.readyState === 1) queueMicrotask(open);
    else socket.onopen = open;
    // The ArrayBuffer is the message's own: handed on as it is, it reaches
    // `event.data` unchanged when the socket's binaryType is "arraybuffer".
    socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => events.message(event.data);
    socket.onerror = (event: Event) => {
      if (this.#closed) return;
      const message = (event as ErrorEvent).message ?? "";
      events.error(nativeError(message));
    };
    // Deno may fire `close` twice (its idle-timeout close, then the handshake's); report once.
    socket.onclose = (event: CloseEvent) =>
      this.#close(closeInfo(event.code, event.reason, event.wasClean));
  }

  /** What the runtime reports as queued. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /**
   * Hands a message to the runtime.
   *
   * @param data Text or bytes.
   * @param _options Ignored: the runtime decides compression.
   * @returns Resolves once handed over (not once written).
   */
  send(data: string | Uint8Array, _options: SendOptions): Promise<void> {
    if (this.#socket.readyState !== 1) return notOpen();
    this.#socket.send(data as string | Uint8Array<ArrayBuffer>);
    return RESOLVED;
  }

  /**
   * Hands a binary message given as an `ArrayBuffer` to the runtime as it is.
   *
   * @param data The bytes.
   * @param _options Ignored: the runtime decides compression.
   * @returns Resolves once handed over (not once written).
   */
  sendBuffer(data: ArrayBuffer, _options: SendOptions): Promise<void> {
    if (this.#socket.readyState !== 1) return notOpen();
    this.#socket.send(data);
    return RESOLVED;
  }

  /**
   * Never called: `capabilities.ping` is `false`.
   *
   * @param _payload Unused.
   * @throws {WebSocketError} `WS_ERR_UNSUPPORTED` always.
   */
  ping(_payload: Uint8Array): void {
    throw new WebSocketError("WS_ERR_UNSUPPORTED", "This runtime's WebSocket cannot send pings", {
      closeCode: 1006,
    });
  }

  /**
   * Starts the runtime's closing handshake.
   *
   * @param closeCode The code, or none.
   * @param reason The reason.
   */
  close(closeCode: number | undefined, reason: string): void {
    // A server socket is CONNECTING until the 101 went out; a close then
    // would be lost (WHATWG fails a connecting socket without a Close frame).
    if (this.#socket.readyState === 0) {
      this.#pendingClose = [closeCode, reason];
      return;
    }
    this.#pendingClose = undefined;
    if (closeCode === undefined) this.#socket.close();
    else this.#socket.close(closeCode, reason);
  }

  /** No-op: the runtime keeps reading. */
  setReading(_reading: boolean): void {}

  /**
   * Sends a Close (the runtime offers no abort) and reports 1006 at once.
   *
   * @param error Why, reported as the socket's error.
   */
  terminate(error?: WebSocketError): void {
    if (this.#closed) return;
    if (error) this.#events.error(error);
    try {
      this.#socket.close();
    } catch {
      // Already closing.
    }
    this.#close({ closeCode: 1006, reason: "", wasClean: false });
  }

  #close(info: CloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.close(info);
  }
}
