import assert from "node:assert/strict";
import { openWebSocket } from "../src/client.ts";
import { upgradeConnection } from "../src/accept.ts";
import { type ByteDuplex, CodecDriver, type CodecDriverInit } from "../src/connection.ts";
import { WebSocketError } from "../src/errors.ts";
import { frameHeaderLength, Opcode } from "../src/frame.ts";
import { createDuplexPair, createWebSocketPair, type WebSocketPairOptions } from "../src/pair.ts";
import {
  EdgeSocket,
  type SocketOptions,
  type WebSocketCloseEvent,
  type WebSocketErrorEvent,
} from "../src/socket.ts";
import { computeAccept } from "../src/handshake.ts";
import { concatBytes, drainPool, hex, parseFrames, peerFrame } from "./_fixtures.ts";

type Options = WebSocketPairOptions;

interface Setup {
  name: string;
  /** Two open sockets, `[client, server]`, each with its own options. */
  connect(client?: Options, server?: Options): Promise<[EdgeSocket, EdgeSocket]>;
}

/** `createWebSocketPair` takes one options object; build each side like it does. */
function socketOn(duplex: ByteDuplex, init: CodecDriverInit & SocketOptions): EdgeSocket {
  let driver: CodecDriver | undefined;
  const socket = new EdgeSocket("ws://in-memory/", (events) => {
    driver = new CodecDriver(init, events);
    return driver;
  }, init);
  driver!.attach(duplex);
  driver!.open("", "");
  return socket;
}

const SETUPS: Setup[] = [
  {
    name: "createWebSocketPair",
    connect(client = {}, server = {}) {
      if (Object.keys(client).length === 0 && Object.keys(server).length === 0) {
        return Promise.resolve(createWebSocketPair());
      }
      const [a, b] = createDuplexPair();
      return Promise.resolve([
        socketOn(a, { ...client, role: "client" }),
        socketOn(b, { ...server, role: "server" }),
      ]);
    },
  },
  {
    name: "duplex + upgradeConnection/openWebSocket",
    async connect(client = {}, server = {}) {
      const [a, b] = createDuplexPair();
      const accepting = upgradeConnection(b, { protocols: ["chat"], ...server });
      const socket = openWebSocket("ws://localhost/path", a, { protocols: ["chat"], ...client });
      await socket.opened;
      return [socket, await accepting];
    },
  },
];

function nextEvent<K extends "open" | "message" | "close" | "error">(
  socket: EdgeSocket,
  type: K,
): Promise<
  K extends "close" ? WebSocketCloseEvent : K extends "error" ? WebSocketErrorEvent : MessageEvent
> {
  return new Promise((resolve) => socket.addEventListener(type, resolve as never, { once: true }));
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw peer on a duplex: reads (and keeps) everything, never answers. */
function silentPeer(duplex: ByteDuplex): { received: Uint8Array[]; done: Promise<void> } {
  const received: Uint8Array[] = [];
  const reader = duplex.readable.getReader();
  const done = (async () => {
    while (true) {
      // An aborted transport errors the stream: that ends the peer too.
      const result = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (result.done) return;
      received.push(result.value);
    }
  })();
  return { received, done };
}

for (const setup of SETUPS) {
  Deno.test(`EdgeSocket over ${setup.name}: events API`, async (t) => {
    await t.step("onopen fires, readyState is OPEN", async () => {
      const [client, server] = await setup.connect();
      const opened = new Promise<Event>((resolve) => client.onopen = resolve);
      assert.equal((await opened).type, "open");
      assert.equal(client.readyState, EdgeSocket.OPEN);
      assert.equal(server.readyState, 1);
      client.close();
      await server.closed;
    });
    await t.step("onmessage with each binaryType", async () => {
      const [client, server] = await setup.connect();
      const received: unknown[] = [];
      client.onmessage = (event) => received.push(event.data);
      const waitFor = async (n: number): Promise<void> => {
        while (received.length < n) await nextEvent(client, "message");
      };
      await server.send("text");
      await waitFor(1);
      assert.equal(received[0], "text");
      client.binaryType = "arraybuffer";
      await server.send(new Uint8Array([1, 2, 3]));
      await waitFor(2);
      assert.ok(received[1] instanceof ArrayBuffer);
      assert.deepEqual([...new Uint8Array(received[1] as ArrayBuffer)], [1, 2, 3]);
      client.binaryType = "blob";
      await server.send(new Uint16Array([0x0201]).buffer);
      await waitFor(3);
      assert.ok(received[2] instanceof Blob);
      assert.deepEqual([...new Uint8Array(await (received[2] as Blob).arrayBuffer())], [1, 2]);
      client.binaryType = "uint8array";
      await server.send(new Blob([new Uint8Array([9, 8])]));
      await waitFor(4);
      assert.ok(received[3] instanceof Uint8Array);
      assert.deepEqual([...(received[3] as Uint8Array)], [9, 8]);
      // A view with an offset sends only its bytes.
      await server.send(new Uint8Array([0, 7, 6, 0]).subarray(1, 3));
      await waitFor(5);
      assert.deepEqual([...(received[4] as Uint8Array)], [7, 6]);
      client.close(1000);
      await client.closed;
    });
    await t.step("onclose with code, reason and wasClean on both sides", async () => {
      const [client, server] = await setup.connect();
      const serverClose = nextEvent(server, "close");
      const clientClose = new Promise<WebSocketCloseEvent>((resolve) => client.onclose = resolve);
      client.close(4001, "done");
      assert.equal(client.readyState, EdgeSocket.CLOSING);
      const [s, c] = await Promise.all([serverClose, clientClose]);
      assert.deepEqual([s.code, s.reason, s.wasClean], [4001, "done", true]);
      assert.deepEqual([c.code, c.reason, c.wasClean], [4001, "done", true]);
      assert.equal(client.readyState, EdgeSocket.CLOSED);
      assert.equal(server.readyState, EdgeSocket.CLOSED);
    });
    await t.step("onerror carries the typed error (message too big → 1009)", async () => {
      const [client, server] = await setup.connect({}, { maxMessageSize: 10 });
      const serverError = new Promise<WebSocketErrorEvent>((resolve) => server.onerror = resolve);
      const serverClose = nextEvent(server, "close");
      const clientClose = nextEvent(client, "close");
      await client.send("x".repeat(11));
      const error = (await serverError).error;
      assert.ok(error instanceof WebSocketError);
      assert.equal(error.code, "WS_ERR_MESSAGE_TOO_BIG");
      assert.equal(error.closeCode, 1009);
      const s = await serverClose;
      assert.deepEqual([s.code, s.wasClean], [1006, false]);
      const c = await clientClose;
      assert.equal(c.code, 1009, "the client hears 1009 from the server");
      await assert.rejects(server.closed, { code: "WS_ERR_MESSAGE_TOO_BIG" });
    });
  });

  Deno.test(`EdgeSocket over ${setup.name}: WebSocketStream API`, async (t) => {
    await t.step("opened, readable, writable; writer.close() closes with 1000", async () => {
      const [client, server] = await setup.connect();
      const info = await client.opened;
      // Take the streams at once: `readable` queues messages from its creation on.
      const clientReadable = info.readable;
      assert.equal(info.protocol, setup.name.startsWith("duplex") ? "chat" : "");
      assert.equal(info.extensions, "");
      const { readable, writable } = await server.opened;
      const writer = info.writable.getWriter();
      await writer.write("one");
      await writer.write(new Uint8Array([2]));
      const reader = readable.getReader();
      assert.equal((await reader.read()).value, "one");
      assert.deepEqual((await reader.read()).value, new Uint8Array([2]));
      const serverWriter = writable.getWriter();
      await serverWriter.write("back");
      const clientReader = clientReadable.getReader();
      assert.equal((await clientReader.read()).value, "back");
      await writer.close();
      assert.deepEqual(await server.closed, { closeCode: 1000, reason: "" });
      assert.deepEqual(await client.closed, { closeCode: 1000, reason: "" });
      assert.equal((await reader.read()).done, true, "readable ends on a clean close");
    });
    await t.step("close({ closeCode, reason }) resolves closed on both sides", async () => {
      const [client, server] = await setup.connect();
      server.close({ closeCode: 1001, reason: "going away" });
      assert.deepEqual(await client.closed, { closeCode: 1001, reason: "going away" });
      assert.deepEqual(await server.closed, { closeCode: 1001, reason: "going away" });
    });
    await t.step("closed rejects with a WebSocketError after an abnormal close", async () => {
      const [client, server] = await setup.connect();
      const readable = server.readable;
      client.terminate();
      await assert.rejects(
        server.closed,
        (error: unknown) =>
          error instanceof WebSocketError && error.code === "WS_ERR_CONNECTION_LOST" &&
          error.closeCode === 1006,
      );
      await assert.rejects(client.closed, WebSocketError);
      await assert.rejects(readable.getReader().read(), WebSocketError);
    });
  });

  Deno.test(`EdgeSocket over ${setup.name}: async iteration ends at close`, async () => {
    const [client, server] = await setup.connect();
    const sending = (async () => {
      for (const message of ["a", "b", "c"]) await server.send(message);
      server.close(1000);
    })();
    const received: unknown[] = [];
    for await (const message of client) received.push(message);
    await sending;
    assert.deepEqual(received, ["a", "b", "c"]);
    assert.equal(client.readyState, EdgeSocket.CLOSED);
  });

  Deno.test(`EdgeSocket over ${setup.name}: send() is awaitable, bufferedAmount returns to 0`, async () => {
    const [client, server] = await setup.connect();
    const big = new Uint8Array(200_000);
    const sent = client.send(big);
    assert.ok(client.bufferedAmount >= big.length, `${client.bufferedAmount}`);
    const arrived = nextEvent(server, "message");
    await sent;
    await arrived;
    assert.equal(client.bufferedAmount, 0);
    client.close();
    await client.closed;
  });

  Deno.test(`EdgeSocket over ${setup.name}: send() snapshots the data`, async () => {
    const [client, server] = await setup.connect();
    client.binaryType = "uint8array";
    for (const size of [100, 100_000]) {
      const arrived = nextEvent(client, "message");
      const buffer = new Uint8Array(size).fill(1);
      server.send(buffer);
      buffer.fill(2); // Reused at once, as browser code may do.
      const { data } = await arrived;
      assert.ok((data as Uint8Array).every((b) => b === 1), `${size}`);
    }
    client.close();
    await server.closed;
  });

  Deno.test(`EdgeSocket over ${setup.name}: send after close rejects with WS_ERR_NOT_OPEN`, async () => {
    const [client] = await setup.connect();
    client.close(1000);
    // Not awaited: must not surface as an unhandled rejection (Deno fails the test if it does).
    client.send("ignored");
    await assert.rejects(client.send("late"), { code: "WS_ERR_NOT_OPEN" });
    await client.closed;
    await assert.rejects(client.send("later"), { code: "WS_ERR_NOT_OPEN" });
    await assert.rejects(client.ping(), { code: "WS_ERR_NOT_OPEN" });
  });

  Deno.test(`EdgeSocket over ${setup.name}: ping() resolves with the round-trip time`, async () => {
    let clock = 1000;
    const [client, server] = await setup.connect({ now: () => clock });
    const rtt = client.ping(new Uint8Array([1, 2]));
    clock = 1042;
    assert.equal(await rtt, 42);
    // Concurrent pings resolve independently.
    const [a, b] = [client.ping(), client.ping()];
    clock = 1050;
    assert.deepEqual(await Promise.all([a, b]), [8, 8]);
    await assert.rejects(client.ping(new Uint8Array(118)), RangeError);
    // The server's clock is real: a number ≥ 0.
    const real = await server.ping();
    assert.ok(typeof real === "number" && real >= 0);
    client.close();
    await client.closed;
  });

  Deno.test(`EdgeSocket over ${setup.name}: idle timeout closes with 1001`, async () => {
    const [client, server] = await setup.connect({}, { idleTimeout: 30 });
    const [c, s] = await Promise.all([nextEvent(client, "close"), nextEvent(server, "close")]);
    assert.deepEqual([c.code, c.wasClean], [1001, true]);
    assert.deepEqual([s.code, s.wasClean], [1001, true]);
  });

  Deno.test(`EdgeSocket over ${setup.name}: a heartbeat keeps a live peer open`, async () => {
    // The clock is read when a Ping goes out and when its Pong comes back:
    // count the reads to see heartbeats complete (no wall-clock assertion).
    let reads = 0;
    const now = (): number => ++reads;
    const [client, server] = await setup.connect({
      heartbeat: { interval: 10, timeout: 5000 },
      now,
    });
    while (reads < 6 && client.readyState === EdgeSocket.OPEN) await delay(10); // Three round trips.
    assert.equal(client.readyState, EdgeSocket.OPEN);
    assert.equal(server.readyState, EdgeSocket.OPEN);
    client.close();
    await client.closed;
  });

  Deno.test(`EdgeSocket over ${setup.name}: terminate()`, async () => {
    const [client, server] = await setup.connect();
    const serverError = nextEvent(server, "error");
    const clientClose = nextEvent(client, "close");
    const serverClose = nextEvent(server, "close");
    client.terminate();
    const c = await clientClose;
    assert.deepEqual([c.code, c.wasClean], [1006, false]);
    const s = await serverClose;
    assert.deepEqual([s.code, s.wasClean], [1006, false]);
    assert.equal((await serverError).error.code, "WS_ERR_CONNECTION_LOST");
  });
}

Deno.test("EdgeSocket: send while CONNECTING throws InvalidStateError", async () => {
  const [a, b] = createDuplexPair();
  const socket = openWebSocket("ws://localhost/", a, { handshakeTimeout: 1000 });
  assert.equal(socket.readyState, EdgeSocket.CONNECTING);
  assert.throws(
    () => socket.send("early"),
    (error: unknown) => error instanceof DOMException && error.name === "InvalidStateError",
  );
  // Let the handshake finish so nothing leaks.
  const server = await upgradeConnection(b);
  await socket.opened;
  socket.close();
  await server.closed;
});

Deno.test("EdgeSocket: the close handshake times out when the peer never answers", async () => {
  const [a, b] = createDuplexPair();
  const peer = silentPeer(b);
  const socket = socketOn(a, { role: "client", closeTimeout: 50 });
  await socket.opened;
  const error = nextEvent(socket, "error");
  const close = nextEvent(socket, "close");
  socket.close(1000, "bye");
  assert.equal(socket.readyState, EdgeSocket.CLOSING);
  const event = await close;
  assert.deepEqual([event.code, event.wasClean], [1006, false]);
  assert.equal((await error).error.code, "WS_ERR_CLOSE_TIMEOUT");
  await assert.rejects(socket.closed, { code: "WS_ERR_CLOSE_TIMEOUT" });
  await peer.done;
  // The peer got our Close frame, masked, with the code and reason.
  const frames = parseFrames(concatBytes(...peer.received));
  assert.equal(frames.at(-1)?.opcode, Opcode.Close);
  assert.ok(frames.at(-1)?.mask);
});

Deno.test("EdgeSocket: heartbeat against a peer that never pongs closes with WS_ERR_PONG_TIMEOUT", async () => {
  const [a, b] = createDuplexPair();
  const peer = silentPeer(b);
  const socket = socketOn(a, { role: "server", heartbeat: { interval: 20, timeout: 20 } });
  const error = nextEvent(socket, "error");
  const close = nextEvent(socket, "close");
  const event = await close;
  assert.deepEqual([event.code, event.wasClean], [1006, false]);
  assert.equal((await error).error.code, "WS_ERR_PONG_TIMEOUT");
  await assert.rejects(socket.closed, { code: "WS_ERR_PONG_TIMEOUT" });
  await peer.done;
  const frames = parseFrames(concatBytes(...peer.received));
  assert.ok(frames.some((frame) => frame.opcode === Opcode.Ping), "a Ping went out");
});

Deno.test("EdgeSocket: backpressure — a reader that stops reading stops the sender", async () => {
  const HWM = 2;
  const COUNT = 60;
  const SIZE = 16 * 1024;
  const [a, b] = createDuplexPair();
  const client = socketOn(a, { role: "client" });
  const server = socketOn(b, { role: "server", readableHighWaterMark: HWM });
  await server.opened;
  const readable = server.readable; // Created but not read.
  let delivered = 0;
  server.addEventListener("message", () => delivered++);
  let resolved = 0;
  const sends: Promise<void>[] = [];
  for (let i = 0; i < COUNT; i++) {
    const message = new Uint8Array(SIZE).fill(i);
    sends.push(client.send(message).then(() => void resolved++));
  }
  await delay(100);
  // The server read at most what fills its queue (plus the chunk it was
  // parsing); the duplex (64 KiB) and the client's buffer hold the rest.
  assert.ok(delivered <= HWM + 1, `delivered ${delivered}`);
  assert.ok(resolved < COUNT - 4, `resolved ${resolved}`);
  assert.ok(client.bufferedAmount > (COUNT - HWM - 8) * SIZE, `buffered ${client.bufferedAmount}`);
  const stalled = delivered;
  await delay(50);
  assert.equal(delivered, stalled, "no progress while nobody reads");
  // Resume: everything arrives, in order.
  const reader = readable.getReader();
  for (let i = 0; i < COUNT; i++) {
    const { value } = await reader.read();
    assert.ok(value instanceof Uint8Array);
    assert.equal(value.length, SIZE);
    assert.equal(value[0], i);
  }
  await Promise.all(sends);
  assert.equal(resolved, COUNT);
  assert.equal(client.bufferedAmount, 0);
  reader.releaseLock();
  client.close();
  await server.closed;
});

Deno.test("EdgeSocket: close() completes cleanly after the application stopped reading", async () => {
  // Regression: with `readable` full the read loop stayed paused, so the
  // peer's Close was never read and close() ended in a 1006 timeout.
  for (const setup of SETUPS) {
    const options = { readableHighWaterMark: 2, closeTimeout: 2000 };
    const [client, server] = await setup.connect(options, options);
    for (let i = 0; i < 10; i++) server.send(`m${i}`);
    for await (const message of client) {
      assert.equal(message, "m0");
      break; // Stop reading; the queue fills and reading pauses.
    }
    await delay(30);
    const close = nextEvent(client, "close");
    client.close(1000);
    const event = await close;
    assert.deepEqual([event.code, event.wasClean], [1000, true], setup.name);
    assert.deepEqual(await server.closed, { closeCode: 1000, reason: "" });
  }
});

Deno.test("upgradeConnection: frames sent in the same chunk as the request head are not lost", async () => {
  const [a, b] = createDuplexPair();
  const accepting = upgradeConnection(b);
  const writer = a.writable.getWriter();
  const head = new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  // RFC 6455 §5.7 masked "Hello", right behind the head.
  await writer.write(concatBytes(head, hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")));
  const server = await accepting;
  const message = await nextEvent(server, "message");
  assert.equal(message.data, "Hello");
  const reader = a.readable.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /^HTTP\/1\.1 101 /);
  assert.match(
    new TextDecoder().decode(value),
    /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i,
  );
  server.terminate();
  await server.closed.catch(() => {});
});

Deno.test("openWebSocket: frames sent in the same chunk as the 101 are not lost", async () => {
  const [a, b] = createDuplexPair();
  const socket = openWebSocket("ws://localhost/", a);
  const reader = b.readable.getReader();
  const request = new TextDecoder().decode((await reader.read()).value);
  const key = /sec-websocket-key: (\S+)/i.exec(request)![1];
  const writer = b.writable.getWriter();
  const response = new TextEncoder().encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${await computeAccept(key)}\r\n\r\n`,
  );
  const message = nextEvent(socket, "message");
  await writer.write(concatBytes(response, hex("81 05 48 65 6c 6c 6f")));
  await socket.opened;
  assert.equal((await message).data, "Hello");
  socket.terminate();
  await socket.closed.catch(() => {});
});

Deno.test("upgradeConnection: a rejected handshake answers with its status on the duplex", async () => {
  const [a, b] = createDuplexPair();
  const accepting = upgradeConnection(b, { origins: ["https://good.example"] });
  const writer = a.writable.getWriter();
  await writer.write(new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      "Origin: https://evil.example\r\n\r\n",
  ));
  await assert.rejects(
    accepting,
    (error: unknown) =>
      error instanceof WebSocketError && error.code === "WS_ERR_HANDSHAKE_REJECTED" &&
      error.status === 403,
  );
  const response = await new Response(a.readable).text();
  assert.match(response, /^HTTP\/1\.1 403 /);
});

Deno.test("upgradeConnection: a request that is not an upgrade gets 400 / 426", async () => {
  for (
    const [request, status] of [
      ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
      [
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        426,
      ],
    ] as const
  ) {
    const [a, b] = createDuplexPair();
    const accepting = upgradeConnection(b);
    const writer = a.writable.getWriter();
    await writer.write(new TextEncoder().encode(request));
    await assert.rejects(accepting, { status });
    const response = await new Response(a.readable).text();
    assert.match(response, new RegExp(`^HTTP/1\\.1 ${status} `));
    if (status === 426) assert.match(response, /sec-websocket-version: 13/i);
  }
});

Deno.test("openWebSocket: a non-101 answer rejects opened with the status and closes with 1006", async () => {
  const [a, b] = createDuplexPair();
  const socket = openWebSocket("ws://localhost/", a);
  const close = nextEvent(socket, "close");
  const reader = b.readable.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /^GET \/ HTTP\/1\.1\r\n/);
  const writer = b.writable.getWriter();
  await writer.write(
    new TextEncoder().encode("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
  );
  await assert.rejects(
    socket.opened,
    (error: unknown) => error instanceof WebSocketError && error.status === 403,
  );
  const event = await close;
  assert.deepEqual([event.code, event.wasClean], [1006, false]);
  await assert.rejects(socket.closed, WebSocketError);
  reader.releaseLock();
});

Deno.test("openWebSocket: when the server picks no subprotocol, both report none", async () => {
  const [a, b] = createDuplexPair();
  const accepting = upgradeConnection(b, { protocols: ["chat"] });
  const socket = openWebSocket("ws://localhost/", a, { protocols: ["other"] });
  // RFC 6455 §4.2.2: the server may pick none of the offered subprotocols.
  const server = await accepting;
  const { protocol } = await socket.opened;
  assert.equal(protocol, "");
  assert.equal(server.protocol, "");
  socket.close();
  await server.closed;
});

Deno.test("EdgeSocket: onmessage alone keeps reading past the readable's high-water mark", async () => {
  // Regression: `opened` used to create `readable` eagerly, so every message
  // was queued for a stream nobody read and reading stopped after 16.
  const [client, server] = createWebSocketPair();
  const count = 100;
  const received: string[] = [];
  const all = Promise.withResolvers<void>();
  server.onmessage = (event) => {
    received.push(event.data as string);
    if (received.length === count) all.resolve();
  };
  await client.opened;
  for (let i = 0; i < count; i++) client.send(`m${i}`);
  const timer = setTimeout(() => all.reject(new Error(`Stalled at ${received.length}`)), 5000);
  await all.promise;
  clearTimeout(timer);
  assert.deepEqual(received, Array.from({ length: count }, (_, i) => `m${i}`));
  client.close(1000);
  await server.closed;
});

Deno.test("EdgeSocket: an on* handler's result is not returned to the EventTarget", async () => {
  // Node's EventTarget rethrows a listener's rejected promise as an uncaught
  // exception, and `onmessage = (e) => socket.send(e.data)` returns one.
  const [client, server] = createWebSocketPair();
  const registered: unknown[] = [];
  const add = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (this: EventTarget, type, listener, options) {
    if (this === server && type === "message") registered.push(listener);
    add.call(this, type, listener, options);
  };
  let called = false;
  try {
    server.onmessage = () => {
      called = true;
      return Promise.resolve(42);
    };
    // Another listener makes the handler a listener of its own, registered first.
    server.addEventListener("message", () => {});
  } finally {
    EventTarget.prototype.addEventListener = add;
  }
  assert.equal(registered.length, 2);
  const wrapper = registered[0] as (event: Event) => unknown;
  assert.equal(wrapper(new MessageEvent("message", { data: "x" })), undefined);
  assert.equal(called, true);
  client.close(1000);
  await server.closed;
});

Deno.test("socket: messages that arrive before anyone consumes them are kept for the stream", async () => {
  const [client, server] = createWebSocketPair({ readableHighWaterMark: 4 });
  for (let i = 0; i < 10; i++) client.send(`m${i}`);
  // Nobody listens on the server yet; wait long enough for every frame to arrive.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const received: unknown[] = [];
  for await (const message of server) {
    received.push(message);
    if (received.length === 10) break;
  }
  assert.deepEqual(received, Array.from({ length: 10 }, (_, i) => `m${i}`));
  client.close(1000);
  await server.closed;
});

Deno.test("socket: a late first message listener gets the messages kept so far", async () => {
  const [client, server] = createWebSocketPair();
  await client.send("early");
  await new Promise((resolve) => setTimeout(resolve, 20));
  const got = new Promise((resolve) => server.onmessage = (event) => resolve(event.data));
  assert.equal(await got, "early");
  client.close(1000);
  await server.closed;
});

Deno.test("socket: after the peer's Close, readyState is CLOSING and ping()/send() reject, never throw", async () => {
  // A client whose server sends a Close and then keeps the TCP connection open: the
  // client waits (up to closeTimeout) for the server to close first (RFC 6455 §7.1.1).
  const [clientSide, serverSide] = createDuplexPair();
  const client = socketOn(clientSide, { role: "client", closeTimeout: 200 });
  const peer = silentPeer(serverSide);
  const writer = serverSide.writable.getWriter();
  await writer.write(hex("88 02 03 e8")); // Close 1000, unmasked (server → client)
  while (client.readyState === EdgeSocket.OPEN) await delay(1);
  assert.equal(client.readyState, EdgeSocket.CLOSING);
  await assert.rejects(client.ping(), { code: "WS_ERR_NOT_OPEN" });
  await assert.rejects(client.send("late"), { code: "WS_ERR_NOT_OPEN" });
  // The echo went out, then the client gave up waiting for the server's TCP close.
  assert.deepEqual(await client.closed, { closeCode: 1000, reason: "" });
  await peer.done;
  const frames = parseFrames(concatBytes(...peer.received));
  assert.deepEqual(frames.map((f) => f.opcode), [Opcode.Close]);
});

Deno.test("CodecDriver: a socket terminated as it opens leaves no timer behind", async () => {
  // Timers started while the sockets open and close, still pending afterwards.
  type Id = ReturnType<typeof setTimeout>;
  const pending = new Set<Id>();
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  const tracked = (callback: () => void, ms?: number): Id => {
    const id = realSet(() => {
      pending.delete(id);
      callback();
    }, ms);
    pending.add(id);
    return id;
  };
  globalThis.setTimeout = tracked as unknown as typeof setTimeout;
  globalThis.clearTimeout = ((id?: Id) => {
    if (id !== undefined) pending.delete(id);
    realClear(id);
  }) as typeof clearTimeout;
  let sockets: EdgeSocket[];
  try {
    sockets = createWebSocketPair();
    for (const socket of sockets) socket.terminate();
    await Promise.all(sockets.map((socket) => socket.closed.catch(() => {})));
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
  assert.deepEqual(sockets.map((socket) => socket.readyState), [
    EdgeSocket.CLOSED,
    EdgeSocket.CLOSED,
  ]);
  assert.equal(pending.size, 0, `${pending.size} timers still pending after both closed`);
});

/** Asserts `actual` is bytes equal to `expected`, naming the first difference (no slow diff). */
function assertSameBytes(actual: unknown, expected: Uint8Array, label: string): void {
  assert.ok(actual instanceof Uint8Array, `${label}: not bytes`);
  assert.equal(actual.length, expected.length, `${label}: length`);
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  assert.equal(at, -1, `${label}: first difference at byte ${at}`);
}

Deno.test("EdgeSocket: reuseMessageBuffers lends event.data to the handlers; readable gets copies", async () => {
  drainPool();
  const [a, b] = createDuplexPair();
  const server = socketOn(b, { role: "server", reuseMessageBuffers: true });
  server.binaryType = "uint8array";
  const writer = a.writable.getWriter();
  const sent = [1, 2, 3].map((n) => new Uint8Array(40_000).fill(n));
  /** Writes the masked frames in two chunks each: the engine assembles them in a buffer. */
  const sendAll = async () => {
    for (const payload of sent) {
      const bytes = peerFrame("server", Opcode.Binary, payload);
      await writer.write(bytes.slice(0, 20_000));
      await writer.write(bytes.slice(20_000));
    }
  };
  const seen: { view: Uint8Array; bytes: Uint8Array }[] = [];
  const all = new Promise<void>((resolve) => {
    server.onmessage = (event) => {
      const view = event.data as Uint8Array;
      seen.push({ view, bytes: view.slice() });
      if (seen.length === sent.length) resolve();
    };
  });
  await sendAll();
  await all;
  seen.forEach(({ view, bytes }, i) => {
    assertSameBytes(bytes, sent[i], `message ${i} during the handler`);
    assert.equal(view.byteLength, 0, `message ${i}'s view is detached after the handler`);
  });
  // No handler: the messages wait for `readable`, as copies of their own.
  server.onmessage = null;
  await sendAll();
  await delay(20);
  const reader = server.readable.getReader();
  for (const [i, payload] of sent.entries()) {
    assertSameBytes((await reader.read()).value, payload, `queued message ${i}`);
  }
  // And while `readable` is being read.
  const reads = sent.map(() => reader.read());
  await sendAll();
  for (const [i, read] of reads.entries()) {
    assertSameBytes((await read).value, sent[i], `read message ${i}`);
  }
  reader.releaseLock();
  server.close();
  await writer.close().catch(() => {});
  await server.closed.catch(() => {});
});

// ---------------------------------------------------------------------------
// send with transfer

Deno.test("EdgeSocket: send with transfer detaches a whole buffer, copies a view of part of one", async () => {
  const [client, server] = createWebSocketPair();
  server.binaryType = "uint8array";
  const pattern = (size: number, n: number) =>
    new Uint8Array(size).map((_, i) => (i * 13 + n) & 0xff);
  const cases = [
    { data: pattern(40_000, 1), taken: true }, // a view of a whole buffer
    { data: pattern(20_000, 2).buffer, taken: true }, // an ArrayBuffer
    { data: new DataView(pattern(30_000, 3).buffer), taken: true }, // any view
    { data: pattern(100, 4), taken: true }, // under OWNED_MIN: copied, detached all the same
    { data: pattern(60_000, 5).subarray(1000, 41_000), taken: false }, // part of a buffer
  ];
  const expected = cases.map(({ data }) =>
    new Uint8Array(
      ArrayBuffer.isView(data) ? data.buffer : data,
      ArrayBuffer.isView(data) ? data.byteOffset : 0,
      data.byteLength,
    ).slice()
  );
  const received: unknown[] = [];
  const all = new Promise<void>((resolve) => {
    server.onmessage = (event) => {
      received.push(event.data);
      if (received.length === cases.length) resolve();
    };
  });
  for (const [i, { data, taken }] of cases.entries()) {
    const buffer = ArrayBuffer.isView(data) ? data.buffer : data;
    const size = buffer.byteLength;
    const sent = client.send(data, { transfer: true });
    assert.equal(buffer.byteLength, taken ? 0 : size, `case ${i}: detached as send() returns`);
    await sent;
  }
  await all;
  received.forEach((data, i) => assertSameBytes(data, expected[i], `message ${i}`));
  client.close();
  await server.closed;
});

Deno.test("EdgeSocket: send with transfer throws a TypeError for a SharedArrayBuffer and sends nothing", async () => {
  const [client, server] = createWebSocketPair();
  const shared = new Uint8Array(new SharedArrayBuffer(32 * 1024));
  assert.throws(() => client.send(shared, { transfer: true }), TypeError);
  await client.send("after");
  assert.equal((await nextEvent(server, "message")).data, "after");
  client.close();
  await server.closed;
});

Deno.test("EdgeSocket: send with transfer on a closed socket rejects and leaves the buffer attached", async () => {
  const [client, server] = createWebSocketPair();
  client.close();
  await client.closed;
  await server.closed;
  const bytes = new Uint8Array(32 * 1024);
  await assert.rejects(client.send(bytes, { transfer: true }), { code: "WS_ERR_NOT_OPEN" });
  assert.equal(bytes.byteLength, 32 * 1024);
});

Deno.test("EdgeSocket: a message lent by reuseMessageBuffers and sent on with transfer is taken, and echoes intact", async () => {
  drainPool();
  const [a, b] = createDuplexPair();
  const server = socketOn(b, { role: "server", reuseMessageBuffers: true });
  server.binaryType = "uint8array";
  const sent = [40_000, 70_000, 300_000].map((size, n) =>
    new Uint8Array(size).map((_, i) => (i * 11 + n) & 0xff)
  );
  const kept: number[] = [];
  server.onmessage = (event) => {
    const view = event.data as Uint8Array;
    server.send(view, { transfer: true });
    kept.push(view.byteLength);
  };
  const writer = a.writable.getWriter();
  for (const payload of sent) {
    // In two chunks: the engine assembles the message in a buffer the pool lends.
    const bytes = peerFrame("server", Opcode.Binary, payload);
    await writer.write(bytes.slice(0, 20_000));
    await writer.write(bytes.slice(20_000));
  }
  const reader = a.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const expected = sent.reduce((n, p) => n + p.length + frameHeaderLength(p.length, false), 0);
  while (total < expected) {
    const { value } = await reader.read();
    if (value === undefined) break;
    chunks.push(value.slice());
    total += value.length;
  }
  assert.deepEqual(kept, [0, 0, 0], "each lent view is detached as send() returns");
  const frames = parseFrames(concatBytes(...chunks));
  assert.equal(frames.length, sent.length);
  frames.forEach((f, i) => assertSameBytes(f.payload, sent[i], `echo ${i}`));
  reader.releaseLock();
  server.close();
  await writer.close().catch(() => {});
  await server.closed.catch(() => {});
});

Deno.test("EdgeSocket: with reuseMessageBuffers and permessage-deflate, echoes with transfer arrive intact", async () => {
  for (const perMessageDeflate of [false, true]) {
    const [a, b] = createDuplexPair();
    const accepting = upgradeConnection(b, { perMessageDeflate, reuseMessageBuffers: true });
    const client = openWebSocket("ws://localhost/", a, { perMessageDeflate });
    await client.opened;
    const server = await accepting;
    assert.equal(server.extensions !== "", perMessageDeflate);
    client.binaryType = "uint8array";
    server.binaryType = "uint8array";
    server.onmessage = (event) => server.send(event.data, { transfer: true });
    const sent = [40_000, 100, 300_000, 16 * 1024].map((size, n) =>
      new Uint8Array(size).map((_, i) => (i * 7 + n) & 0xff)
    );
    const echoes: unknown[] = [];
    const all = new Promise<void>((resolve) => {
      client.onmessage = (event) => {
        echoes.push(event.data);
        if (echoes.length === sent.length) resolve();
      };
    });
    for (const payload of sent) await client.send(payload);
    await all;
    echoes.forEach((data, i) =>
      assertSameBytes(data, sent[i], `deflate ${perMessageDeflate}: ${i}`)
    );
    client.close();
    await server.closed;
  }
});
