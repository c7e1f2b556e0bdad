/**
 * The Deno client dialer: `Deno.connect` for `ws:`, `Deno.connectTls` for
 * `wss:`. Re-exported by `@edgesocket/core/deno`; loaded on demand by
 * `connect()` when it runs on Deno.
 *
 * @module
 */

import type { ByteDuplex } from "../connection.ts";
import type { DialOptions } from "../connect.ts";

/**
 * Opens a TCP (`ws:`) or TLS (`wss:`) connection with Deno's own API.
 * Nagle's algorithm is turned off: the codec batches its writes itself.
 *
 * @param url A `ws:` or `wss:` URL.
 * @param options Abort signal and extra CA certificates.
 * @returns The connection as a byte duplex.
 * @throws {Deno.errors.ConnectionRefused} Or another network error, when the dial fails.
 *
 * @example Dialing a local listener
 * ```ts ignore
 * import { dialDeno } from "@edgesocket/core/deno";
 * import assert from "node:assert/strict";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const duplex = await dialDeno(new URL(`ws://127.0.0.1:${listener.addr.port}/`), {});
 * const conn = await listener.accept();
 * assert.ok(duplex.readable instanceof ReadableStream);
 * await duplex.writable.close();
 * conn.close();
 * ```
 */
export async function dialDeno(url: URL, options: DialOptions = {}): Promise<ByteDuplex> {
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port) || (secure ? 443 : 80);
  options.signal?.throwIfAborted();
  const conn = secure
    ? await Deno.connectTls({ hostname, port, caCerts: options.caCerts })
    : await Deno.connect({ hostname, port, signal: options.signal });
  if (options.signal?.aborted) {
    conn.close();
    options.signal.throwIfAborted();
  }
  if (!secure) (conn as Deno.TcpConn).setNoDelay(true);
  return { readable: conn.readable, writable: conn.writable };
}
