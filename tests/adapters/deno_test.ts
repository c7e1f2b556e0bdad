/**
 * The Deno adapters on the real runtime against real peers: `upgradeWebSocket`
 * on `Deno.serve` (Deno frames) and `listen` on `Deno.listen` (our codec).
 *
 * Run: `deno test -A tests/adapters/deno_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocket as WsClient } from "ws";
import {
  DENO_NATIVE_CAPABILITIES,
  type DenoUpgradeOptions,
  listen,
  upgradeWebSocket,
} from "../../src/adapters/deno.ts";
import type { EdgeSocket } from "../../src/socket.ts";
import { CONTRACT_POLICY, serveContract } from "./_bun_contract.ts";
import { adapterSuite } from "./_suite.ts";
import { type ContractServer, contractTests, wsClosed, wsNext, wsOpen } from "./_bun_clients.ts";

/** The capability table's rows, asserted by the contract's `/caps` check. */
const CODEC_CAPABILITIES = {
  ping: true,
  backpressure: true,
  compression: true,
  anyCloseCode: true,
};

function startNative(options: DenoUpgradeOptions = {}): Promise<ContractServer> {
  const closing: Promise<unknown>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const { socket, response } = await upgradeWebSocket(request, {
      ...CONTRACT_POLICY,
      ...options,
    });
    if (socket) {
      closing.push(socket.closed.catch(() => {}));
      serveContract(socket, new URL(request.url));
    }
    return response;
  });
  return Promise.resolve({
    base: `ws://127.0.0.1:${server.addr.port}`,
    // A client's 'close' can come before Deno's side of the socket finished closing (under
    // load): wait for every server socket, so the test ends with nothing of it pending.
    [Symbol.asyncDispose]: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(closing),
        new Promise((resolve) => timer = setTimeout(resolve, 5000)),
      ]);
      clearTimeout(timer);
      await server.shutdown();
    },
  });
}

function startListen(options: { readableHighWaterMark?: number } = {}): Promise<ContractServer> {
  const server = listen({
    ...CONTRACT_POLICY,
    ...options,
    hostname: "127.0.0.1",
    port: 0,
    onSocket: (socket) => serveContract(socket, new URL(socket.url)),
  });
  return Promise.resolve({
    base: `ws://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown({ drainTimeout: 1000 }),
  });
}

// The shared adapter suite (`_suite.ts`), then our contract tests with more peers.
adapterSuite({
  name: "Deno.serve upgradeWebSocket",
  start: async () => {
    const server = await startNative();
    return { url: server.base, [Symbol.asyncDispose]: () => server[Symbol.asyncDispose]() };
  },
  // Deno's native socket cannot ping; `/slow` is not served (it needs backpressure).
  capabilities: { serverPing: false, backpressure: false },
});
adapterSuite({
  name: "Deno.listen listen",
  start: async () => {
    // `/slow` holds at most one unread message (the suite's contract); the
    // echo paths read through `onmessage`, which this queue does not limit.
    const server = await startListen({ readableHighWaterMark: 1 });
    return { url: server.base, [Symbol.asyncDispose]: () => server[Symbol.asyncDispose]() };
  },
  capabilities: { serverPing: true, backpressure: true },
});

contractTests("Deno.serve upgradeWebSocket", startNative, {
  capabilities: DENO_NATIVE_CAPABILITIES,
});
contractTests("Deno.listen listen", startListen, { capabilities: CODEC_CAPABILITIES });

Deno.test("Deno.serve: capabilities row and WS_ERR_UNSUPPORTED ping, in the types too", () => {
  assert.deepEqual(DENO_NATIVE_CAPABILITIES, {
    ping: false,
    backpressure: false,
    compression: false,
    anyCloseCode: false,
  });
  type Socket = Extract<Awaited<ReturnType<typeof upgradeWebSocket>>, { socket: object }>["socket"];
  // @ts-expect-error Deno's native server socket cannot send a Ping: not in the type.
  const _ping: Socket["ping"] = undefined;
});

Deno.test("Deno.serve: rejection returns socket null and the typed error", async () => {
  const request = new Request("http://localhost/", {
    headers: {
      host: "localhost",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "x-deny": "1",
    },
  });
  const result = await upgradeWebSocket(request, CONTRACT_POLICY);
  assert.equal(result.socket, null);
  assert.equal(result.response.status, 401);
  assert.ok(result.socket === null && result.error.code === "WS_ERR_HANDSHAKE_REJECTED");
  const plain = await upgradeWebSocket(new Request("http://localhost/"));
  assert.equal(plain.response.status, 400);
});

Deno.test("Deno.serve: close codes outside 1000/3000-4999 throw RangeError", async () => {
  const seen = Promise.withResolvers<unknown>();
  await using _server = await (async () => {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const { socket, response } = await upgradeWebSocket(req);
      socket?.opened.then(() => {
        try {
          socket.close(1001);
        } catch (error) {
          seen.resolve(error);
        }
        socket.close(1000, "ok");
      });
      return response;
    });
    const { ws } = await wsOpen(`ws://127.0.0.1:${server.addr.port}/`);
    assert.deepEqual(await wsClosed(ws), { code: 1000, reason: "ok" });
    return { [Symbol.asyncDispose]: () => server.shutdown() };
  })();
  assert.ok(await seen.promise instanceof RangeError);
});

Deno.test("Deno.serve: open is the first event when the client sends and closes at once", async () => {
  // Deno reports the message (and the close) before the macrotask `open`
  // waits for, once warm: `open` came after `close`, its timer outliving the
  // socket. A few connections in a row, as the first one is slower.
  let seen: string[] = [];
  let closed = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const { socket, response } = await upgradeWebSocket(req);
    if (socket) {
      socket.onopen = () => seen.push("open");
      socket.onmessage = (event) => {
        seen.push(`message ${event.data}`);
        socket.close(1000);
      };
      socket.onclose = (event) => seen.push(`close ${event.code}`);
      const done = closed;
      socket.closed.then(() => done.resolve());
    }
    return response;
  });
  for (let i = 0; i < 5; i++) {
    seen = [];
    closed = Promise.withResolvers<void>();
    const { ws } = await wsOpen(`ws://127.0.0.1:${server.addr.port}/`);
    ws.send("hi");
    await wsClosed(ws);
    await closed.promise;
    assert.deepEqual(seen, ["open", "message hi", "close 1000"], `connection ${i}`);
  }
  await server.shutdown();
});

Deno.test("Deno.serve: Deno's heartbeat closes a silent peer with 1001", async () => {
  const closed = Promise.withResolvers<{ code: number; error: string | undefined }>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const { socket, response } = await upgradeWebSocket(req, { heartbeat: { interval: 500 } });
    let error: string | undefined;
    socket?.addEventListener("error", (event) => error = event.error.code);
    socket?.addEventListener("close", (event) => closed.resolve({ code: event.code, error }));
    return response;
  });
  // autoPong off: this client plays dead.
  const ws = new WsClient(`ws://127.0.0.1:${server.addr.port}/`, { autoPong: false });
  let pinged = false;
  ws.on("ping", () => pinged = true);
  const clientClosed = wsClosed(ws);
  // Deno counts whole seconds: interval 500 ms becomes a 1 s ping, 2 s deadline.
  assert.deepEqual(await closed.promise, { code: 1001, error: "WS_ERR_PONG_TIMEOUT" });
  assert.equal((await clientClosed).code, 1001);
  assert.ok(pinged);
  await server.shutdown();
});

Deno.test("Deno.serve: a message of 64 MiB exceeds Deno's limit (1006, WS_ERR_MESSAGE_TOO_BIG)", async () => {
  const closed = Promise.withResolvers<{ code: number; error: string | undefined }>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const { socket, response } = await upgradeWebSocket(req);
    let error: string | undefined;
    socket?.addEventListener("error", (event) => error = event.error.code);
    socket?.addEventListener("close", (event) => closed.resolve({ code: event.code, error }));
    return response;
  });
  const { ws } = await wsOpen(`ws://127.0.0.1:${server.addr.port}/`);
  const clientClosed = wsClosed(ws);
  ws.send(new Uint8Array(64 * 1024 * 1024));
  assert.deepEqual(await closed.promise, { code: 1006, error: "WS_ERR_MESSAGE_TOO_BIG" });
  assert.equal((await clientClosed).code, 1006);
  await server.shutdown();
});

Deno.test("Deno.listen: handshake timeout answers 408 to a client that sends nothing", async () => {
  const errors: string[] = [];
  await using server = listen({
    hostname: "127.0.0.1",
    port: 0,
    handshakeTimeout: 200,
    onSocket: () => {},
    onError: (error) => errors.push(error.code),
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  let answer = "";
  for await (const chunk of conn.readable) answer += new TextDecoder().decode(chunk);
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.deepEqual(errors, ["WS_ERR_HANDSHAKE_TIMEOUT"]);
});

Deno.test("Deno.listen: shutdown sends 1001, drops pending handshakes, ends finished", async () => {
  const sockets: EdgeSocket[] = [];
  const server = listen({
    hostname: "127.0.0.1",
    port: 0,
    onSocket: (socket) => {
      sockets.push(socket);
    },
  });
  const { ws } = await wsOpen(`ws://127.0.0.1:${server.addr.port}/`);
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  const clientClosed = wsClosed(ws);
  await server.shutdown({ drainTimeout: 1000 });
  await server.finished;
  assert.deepEqual(await clientClosed, { code: 1001, reason: "Server shutting down" });
  assert.equal(server.sockets.size, 0);
  // The silent connection was dropped, not left to its handshake timeout.
  const { done } = await silent.readable.getReader().read();
  assert.equal(done, true);
  assert.equal(sockets.length, 1);
});

Deno.test("Deno.listen: ping() measures a round trip with a ws peer", async () => {
  const rtt = Promise.withResolvers<number>();
  await using server = listen({
    hostname: "127.0.0.1",
    port: 0,
    onSocket: (socket) => {
      socket.ping().then(rtt.resolve, rtt.reject);
    },
  });
  const { ws } = await wsOpen(`ws://127.0.0.1:${server.addr.port}/`);
  const value = await rtt.promise;
  assert.ok(Number.isFinite(value) && value >= 0);
  ws.close(1000);
  await wsClosed(ws);
  void wsNext;
});
