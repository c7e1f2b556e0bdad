/**
 * How a socket registry learns that a socket closed without a listener per
 * socket (an `EventTarget` record costs ~250 B per socket in Deno).
 *
 * @module
 */

/** What a closing socket leaves: a registry's set. */
interface Leavable {
  delete(socket: object): unknown;
}

const leaving = new WeakMap<object, Leavable>();

/**
 * Makes `socket` delete itself from `set` when it closes. A socket joins at
 * most one set this way.
 *
 * @returns `false` if the socket is already in one (watch its `close` event instead).
 */
export function leaveOnClose(socket: object, set: Leavable): boolean {
  if (leaving.has(socket)) return false;
  leaving.set(socket, set);
  return true;
}

/** Called by a socket as it closes. */
export function socketClosed(socket: object): void {
  const set = leaving.get(socket);
  if (set === undefined) return;
  leaving.delete(socket);
  set.delete(socket);
}
