/**
 * `connect()`: failures of the dial and of the opening handshake, on the
 * Deno dialer and on the node:net dialer (Deno's node compatibility).
 * Success paths against real servers are in `tests/adapters/node_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dialNode } from "../src/adapters/node.ts";
import { connect, type Dialer } from "../src/connect.ts";

const DIALERS: [string, Dialer | undefined][] = [["deno", undefined], ["node", dialNode]];

for (const [name, dial] of DIALERS) {
  Deno.test(`connect (${name} dialer): handshake timeout when the server never answers`, async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const socket = connect(`ws://127.0.0.1:${listener.addr.port}/`, {
      dial,
      handshakeTimeout: 200,
    });
    const conn = await listener.accept();
    await assert.rejects(socket.opened, { code: "WS_ERR_HANDSHAKE_TIMEOUT" });
    await assert.rejects(socket.closed);
    assert.equal(socket.readyState, 3);
    // The client released the connection: the server reads EOF.
    const buffer = new Uint8Array(4096);
    while ((await conn.read(buffer)) !== null) { /* the request head */ }
    conn.close();
  });

  Deno.test(`connect (${name} dialer): AbortSignal aborts the handshake`, async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const controller = new AbortController();
    const socket = connect(`ws://127.0.0.1:${listener.addr.port}/`, {
      dial,
      signal: controller.signal,
    });
    const conn = await listener.accept();
    controller.abort(new Error("changed my mind"));
    await assert.rejects(socket.opened, { code: "WS_ERR_ABORTED" });
    const buffer = new Uint8Array(4096);
    while ((await conn.read(buffer)) !== null) { /* the request head */ }
    conn.close();
  });

  Deno.test(`connect (${name} dialer): a refused connection rejects opened`, async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr;
    listener.close();
    const socket = connect(`ws://127.0.0.1:${port}/`, { dial });
    await assert.rejects(socket.opened, { code: "WS_ERR_CONNECTION_LOST" });
    assert.equal(socket.readyState, 3);
  });

  Deno.test(`connect (${name} dialer): a non-101 answer rejects with its status`, async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const socket = connect(`ws://127.0.0.1:${listener.addr.port}/`, { dial });
    const conn = await listener.accept();
    await conn.write(
      new TextEncoder().encode("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    );
    await assert.rejects(socket.opened, { code: "WS_ERR_HANDSHAKE_REJECTED", status: 404 });
    conn.close();
  });
}

Deno.test("connect: a bad URL throws SyntaxError before dialing", () => {
  let dialed = false;
  const dial: Dialer = () => {
    dialed = true;
    return Promise.reject(new Error("unreachable"));
  };
  assert.throws(() => connect("ftp://example.test/", { dial }), { name: "SyntaxError" });
  assert.equal(dialed, false);
});
