/**
 * `wss:` end to end, with a CA and a server certificate made at test time
 * (`_certs.ts`): our servers on TLS (`listen({ cert, key })` on
 * `Deno.listenTls`, `createWebSocketServer` on a `node:https` server) against
 * our client on both dialers (`Deno.connectTls`, `node:tls`) and against the
 * `ws` client; our client against a `ws` server on `node:https`; and a client
 * that does not trust the server's CA failing with a typed error.
 *
 * The `node:https` and `ws` peers run in this Deno process, on Deno's Node
 * compatibility layer.
 *
 * Run: `deno test -A tests/tls_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { WebSocket as WsClient, WebSocketServer as WsServer } from "ws";
import { createWebSocketServer, dialNode } from "../src/adapters/node.ts";
import { type DenoWebSocketServer, listen } from "../src/adapters/deno.ts";
import { connect, type Dialer } from "../src/connect.ts";
import { WebSocketError } from "../src/errors.ts";
import type { EdgeSocket, Message } from "../src/socket.ts";
import { skipWithoutOpenssl, testCerts } from "./_certs.ts";

const DIALERS: [string, Dialer | undefined][] = [["deno", undefined], ["node", dialNode]];

function tlsTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: skipWithoutOpenssl(name), fn });
}

async function next(socket: EdgeSocket): Promise<Message> {
  for await (const message of socket) return message;
  throw new Error("Socket closed before a message arrived");
}

function echo(socket: EdgeSocket): void {
  socket.binaryType = "uint8array";
  socket.onmessage = (event) => {
    socket.send(event.data).catch(() => {});
  };
}

function pattern(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff);
}

/** Text, a binary message spanning many TLS records, a ping, and a clean close. */
async function exercise(socket: EdgeSocket): Promise<void> {
  await socket.opened;
  await socket.send("héllo över TLS");
  assert.equal(await next(socket), "héllo över TLS");
  const bytes = pattern(256 * 1024);
  await socket.send(bytes);
  assert.deepEqual(await next(socket), bytes);
  const rtt = await socket.ping();
  assert.ok(Number.isFinite(rtt) && rtt >= 0, `rtt ${rtt}`);
  socket.close(1000, "done");
  assert.deepEqual(await socket.closed, { closeCode: 1000, reason: "done" });
}

interface TlsListen extends AsyncDisposable {
  server: DenoWebSocketServer;
  /** The request URLs of the sockets the server accepted. */
  urls: string[];
  /** The codes of the handshakes that failed on the server. */
  errors: string[];
}

async function startListenTls(): Promise<TlsListen> {
  const { cert, key } = await testCerts();
  const urls: string[] = [];
  const errors: string[] = [];
  const server = listen({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    onSocket: (socket) => {
      urls.push(socket.url);
      echo(socket);
    },
    onError: (error) => errors.push(error.code),
  });
  return {
    server,
    urls,
    errors,
    [Symbol.asyncDispose]: () => server.shutdown({ drainTimeout: 1000 }),
  };
}

async function startHttps(
  attach: (server: HttpsServer) => { close(): Promise<void> },
): Promise<{ port: number } & AsyncDisposable> {
  const { cert, key } = await testCerts();
  const server = createHttpsServer({ cert, key });
  const attached = attach(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    async [Symbol.asyncDispose](): Promise<void> {
      await attached.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

for (const [dialer, dial] of DIALERS) {
  tlsTest(`wss (${dialer} dialer) to listen({ cert, key }) on Deno.listenTls`, async () => {
    const { ca } = await testCerts();
    await using tls = await startListenTls();
    const { port } = tls.server.addr;
    // By name (SNI, DNS SAN) and by address (IP SAN).
    for (const host of ["localhost", "127.0.0.1"]) {
      const socket = connect(`wss://${host}:${port}/echo`, { caCerts: [ca], dial });
      assert.equal(socket.url, `wss://${host}:${port}/echo`);
      await exercise(socket);
    }
    // The server saw the requests arrive over TLS.
    assert.deepEqual(tls.urls.map((url) => new URL(url).protocol), ["https:", "https:"]);
    assert.deepEqual(tls.errors, []);
  });

  tlsTest(`wss (${dialer} dialer) to createWebSocketServer on node:https`, async () => {
    const { ca } = await testCerts();
    const urls: string[] = [];
    await using server = await startHttps((https) =>
      createWebSocketServer({
        server: https,
        onSocket: (socket, request) => {
          urls.push(request.url);
          echo(socket);
        },
      })
    );
    await exercise(connect(`wss://localhost:${server.port}/chat`, { caCerts: [ca], dial }));
    assert.deepEqual(urls, [`https://localhost:${server.port}/chat`]);
  });

  tlsTest(`wss (${dialer} dialer) to a ws server on node:https`, async () => {
    const { ca } = await testCerts();
    await using server = await startHttps((https) => {
      const wss = new WsServer({ server: https });
      wss.on("connection", (ws) => {
        ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
      });
      return { close: () => new Promise<void>((resolve) => wss.close(() => resolve())) };
    });
    await exercise(connect(`wss://localhost:${server.port}/`, { caCerts: [ca], dial }));
  });

  tlsTest(`wss (${dialer} dialer): an untrusted CA rejects opened, nothing opens`, async () => {
    const { otherCa } = await testCerts();
    await using tls = await startListenTls();
    const { port } = tls.server.addr;
    // Trusting only another CA, then trusting only the system's roots.
    for (const caCerts of [[otherCa], undefined]) {
      const socket = connect(`wss://localhost:${port}/`, { caCerts, dial });
      let events = "";
      socket.onopen = () => events += "open,";
      socket.onerror = () => events += "error,";
      socket.onclose = (event) => events += `close ${event.code}`;
      await assert.rejects(socket.opened, (error: unknown) => {
        assert.ok(error instanceof WebSocketError, `expected a WebSocketError, got ${error}`);
        assert.equal(error.code, "WS_ERR_CONNECTION_LOST");
        assert.equal(error.closeCode, 1006);
        // The dialer's certificate error is kept as the cause.
        assert.match(String(error.cause), /certificate|issuer/i);
        return true;
      });
      await assert.rejects(socket.closed, { code: "WS_ERR_CONNECTION_LOST" });
      assert.equal(socket.readyState, 3);
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(events, "error,close 1006");
    }
    // The server saw each TLS handshake fail under the request head: a lost
    // connection (1006), not WS_ERR_INTERNAL (regression).
    for (let i = 0; i < 250 && tls.errors.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await tls.server.shutdown();
    assert.deepEqual(tls.errors, ["WS_ERR_CONNECTION_LOST", "WS_ERR_CONNECTION_LOST"]);
    assert.equal(tls.server.sockets.size, 0);
    assert.deepEqual(tls.urls, []);
  });
}

tlsTest("ws client (npm) to listen({ cert, key }) on Deno.listenTls", async () => {
  const { ca } = await testCerts();
  await using tls = await startListenTls();
  const ws = new WsClient(`wss://localhost:${tls.server.addr.port}/ws`, { ca });
  const messages: { data: Uint8Array; isBinary: boolean }[] = [];
  const arrived = Promise.withResolvers<void>();
  ws.on("message", (data: Uint8Array, isBinary: boolean) => {
    messages.push({ data: new Uint8Array(data), isBinary });
    if (messages.length === 2) arrived.resolve();
  });
  const closed = Promise.withResolvers<{ code: number; reason: string }>();
  ws.on("close", (code: number, reason: Uint8Array) => {
    closed.resolve({ code, reason: new TextDecoder().decode(reason) });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const bytes = pattern(100_000);
  ws.send("wss from ws");
  ws.send(bytes);
  await arrived.promise;
  assert.equal(new TextDecoder().decode(messages[0].data), "wss from ws");
  assert.equal(messages[0].isBinary, false);
  assert.deepEqual(messages[1], { data: bytes, isBinary: true });
  ws.close(4000, "bye");
  assert.deepEqual(await closed.promise, { code: 4000, reason: "bye" });
  assert.deepEqual(tls.urls.map((url) => new URL(url).protocol), ["https:"]);
});
