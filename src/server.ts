/**
 * Tracking a server's sockets for a graceful shutdown: stop accepting, send
 * 1001 to every socket, wait up to a drain deadline, then terminate the rest.
 *
 * @module
 */

import { EdgeSocket } from "./socket.ts";
import { leaveOnClose } from "./_closing.ts";

/** Options for {@linkcode SocketRegistry.shutdown}. */
export interface ShutdownOptions {
  /** Close code sent to every socket. Default 1001 (going away). */
  closeCode?: number;
  /** Close reason. Default `"Server shutting down"`. */
  reason?: string;
  /** Ms to wait for closing handshakes before terminating. Default 5000. */
  drainTimeout?: number;
}

/**
 * What the registry needs of a socket. Native-backed sockets without `ping()`
 * (e.g. `DenoNativeSocket`) qualify too: `new SocketRegistry<DenoNativeSocket>()`.
 */
export type RegistrySocket = Omit<EdgeSocket, "ping">;

/**
 * The open sockets of one server. Adapters add every socket they accept;
 * sockets leave the set when they close.
 *
 * @example Shutting down
 * ```ts
 * import { createWebSocketPair, SocketRegistry } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const registry = new SocketRegistry();
 * const [client, server] = createWebSocketPair();
 * registry.add(server);
 * assert.equal(registry.size, 1);
 * await registry.shutdown({ drainTimeout: 1000 });
 * assert.equal(registry.size, 0);
 * assert.deepEqual(await client.closed, { closeCode: 1001, reason: "Server shutting down" });
 * ```
 */
export class SocketRegistry<S extends RegistrySocket = EdgeSocket> {
  #sockets = new Set<S>();
  #closing = false;

  /** Number of open sockets. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Whether {@linkcode SocketRegistry.shutdown} was called; adapters then refuse upgrades. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Iterates over the open sockets (e.g. to broadcast). */
  [Symbol.iterator](): IterableIterator<S> {
    return this.#sockets.values();
  }

  /**
   * Adds a socket; it is removed when it closes. A socket added during
   * shutdown is closed with 1001 at once.
   *
   * @param socket The socket.
   */
  add(socket: S): void {
    if (socket.readyState === 3) return;
    this.#sockets.add(socket);
    // An EdgeSocket leaves the set itself as it closes; others through a listener.
    if (!(socket instanceof EdgeSocket && leaveOnClose(socket, this.#sockets))) {
      socket.addEventListener("close", () => this.#sockets.delete(socket), { once: true });
    }
    if (this.#closing) socket.close(1001, "Server shutting down");
  }

  /**
   * Closes every socket with 1001 (or `closeCode`), waits until they are
   * closed or `drainTimeout` passed, then terminates the rest.
   *
   * @param options Close code, reason and drain deadline.
   * @returns Resolves when no socket is left.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.#closing = true;
    const { closeCode = 1001, reason = "Server shutting down", drainTimeout = 5000 } = options;
    const sockets = [...this.#sockets];
    for (const socket of sockets) socket.close(closeCode, reason);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = Promise.all(sockets.map((socket) => socket.closed.catch(() => {})));
    const inTime = await Promise.race([
      drained.then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), drainTimeout)),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      for (const socket of this.#sockets) socket.terminate();
      await drained;
    }
  }
}
