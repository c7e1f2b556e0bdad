// End to end over real loopback TCP in Deno: our client against our server
// (Deno.listen + upgradeConnection, Deno.connect + openWebSocket), and interop
// with `ws` (npm) as client and as server, in this process.
import assert from "node:assert/strict";
import { WebSocket as WsClient, WebSocketServer } from "ws";
import { type EdgeSocket, openWebSocket, upgradeConnection, WebSocketError } from "../mod.ts";
import type { UpgradeConnectionOptions } from "../mod.ts";

interface EchoServer extends AsyncDisposable {
  url: string;
  sockets: EdgeSocket[];
  errors: unknown[];
}

/** An echo server on Deno.listen, framed by our codec. */
function startEchoServer(options: UpgradeConnectionOptions = {}): EchoServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sockets: EdgeSocket[] = [];
  const errors: unknown[] = [];
  const connections = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      connections.add(conn);
      upgradeConnection(conn, options).then((socket) => {
        sockets.push(socket);
        socket.onmessage = (event) => {
          const data = event.data;
          if (data === "server-close") socket.close(4002, "server says bye");
          else socket.send(data);
        };
      }, (error) => errors.push(error));
    }
  })();
  return {
    url: `ws://127.0.0.1:${listener.addr.port}`,
    sockets,
    errors,
    async [Symbol.asyncDispose]() {
      listener.close();
      await Promise.all(sockets.map((s) => {
        s.terminate();
        return s.closed.catch(() => {});
      }));
    },
  };
}

function dial(url: string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(url);
  return Deno.connect({ hostname, port: Number(port) });
}

function nextMessage(socket: EdgeSocket): Promise<unknown> {
  return new Promise((resolve) => {
    socket.addEventListener("message", (event) => resolve(event.data), { once: true });
  });
}

Deno.test("e2e: our client and our server over loopback TCP", async (t) => {
  await using server = startEchoServer({ protocols: ["chat", "superchat"] });

  await t.step("subprotocol, text and binary echo, close both ways", async () => {
    const client = openWebSocket(server.url + "/room", dial(server.url), {
      protocols: ["superchat", "chat"],
    });
    const opened = await client.opened;
    assert.equal(opened.protocol, "chat");
    client.binaryType = "uint8array";

    const text = nextMessage(client);
    await client.send("héllo 🌍");
    assert.equal(await text, "héllo 🌍");

    const bytes = new Uint8Array(70_000).map((_, i) => i * 7);
    const binary = nextMessage(client);
    await client.send(bytes);
    assert.deepEqual(await binary, bytes);

    const rtt = await client.ping();
    assert.ok(rtt >= 0 && Number.isFinite(rtt));

    client.close(4001, "client says bye");
    assert.deepEqual(await client.closed, { closeCode: 4001, reason: "client says bye" });
    const serverSide = server.sockets.at(-1)!;
    assert.deepEqual(await serverSide.closed, { closeCode: 4001, reason: "client says bye" });
    assert.equal(serverSide.url, server.url.replace("ws:", "http:") + "/room");
  });

  await t.step("server-initiated close reaches the client", async () => {
    const client = openWebSocket(server.url, dial(server.url));
    await client.opened;
    const closeEvent = new Promise<CloseEvent>((resolve) =>
      client.addEventListener("close", (e) => resolve(e as unknown as CloseEvent))
    );
    await client.send("server-close");
    const event = await closeEvent;
    assert.equal(event.code, 4002);
    assert.equal(event.reason, "server says bye");
    assert.equal(event.wasClean, true);
  });

  await t.step("a 20 MiB message is refused with 1009 and the server survives", async () => {
    const client = openWebSocket(server.url, dial(server.url));
    await client.opened;
    const closed = new Promise<CloseEvent>((resolve) =>
      client.addEventListener("close", (e) => resolve(e as unknown as CloseEvent))
    );
    client.send(new Uint8Array(20 * 1024 * 1024));
    const event = await closed;
    // The server failed the connection with 1009 (message too big).
    assert.equal(event.code, 1009);
    const again = openWebSocket(server.url, dial(server.url));
    await again.opened;
    const echoed = nextMessage(again);
    await again.send("still here");
    assert.equal(await echoed, "still here");
    again.close(1000);
    await again.closed;
  });
});

Deno.test("e2e: server rejects bad handshakes with the right status", async () => {
  await using server = startEchoServer({ origins: ["http://allowed.test"] });
  const client = openWebSocket(server.url, dial(server.url), {
    headers: { origin: "http://evil.test" },
  });
  const error = await client.opened.then(() => undefined, (e) => e);
  assert.ok(error instanceof WebSocketError);
  assert.equal(error.code, "WS_ERR_HANDSHAKE_REJECTED");
  assert.equal(error.status, 403);
  await client.closed.catch(() => {});
  assert.equal(client.readyState, 3);
});

Deno.test("e2e: ws client against our server", async () => {
  await using server = startEchoServer({ protocols: ["chat"] });
  const ws = new WsClient(server.url, ["superchat", "chat"], { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  assert.equal(ws.protocol, "chat");
  const received: unknown[] = [];
  const done = new Promise<void>((resolve) =>
    ws.on("message", (data: Uint8Array, isBinary: boolean) => {
      received.push(isBinary ? new Uint8Array(data) : data.toString());
      if (received.length === 3) resolve();
    })
  );
  ws.send("text");
  ws.send(new Uint8Array([1, 2, 3]));
  ws.send("x".repeat(200_000));
  await done;
  assert.deepEqual(received, ["text", new Uint8Array([1, 2, 3]), "x".repeat(200_000)]);
  const closed = new Promise<[number, string]>((resolve) =>
    ws.once("close", (code: number, reason: Uint8Array) => resolve([code, reason.toString()]))
  );
  ws.close(4000, "done");
  assert.deepEqual(await closed, [4000, "done"]);
  assert.deepEqual(await server.sockets[0].closed, { closeCode: 4000, reason: "done" });
});

Deno.test("e2e: our client against a ws server", async () => {
  const wss = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    perMessageDeflate: false,
    handleProtocols: (protocols: Set<string>) => protocols.has("chat") ? "chat" : false,
  });
  await new Promise((resolve) => wss.once("listening", resolve));
  const serverClosed = new Promise<[number, string]>((resolve) => {
    wss.on("connection", (ws) => {
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.once("close", (code: number, reason: Uint8Array) => resolve([code, reason.toString()]));
    });
  });
  const { port } = wss.address() as { port: number };
  const url = `ws://127.0.0.1:${port}/`;
  const client = openWebSocket(url, dial(url), { protocols: ["chat"] });
  assert.equal((await client.opened).protocol, "chat");
  client.binaryType = "uint8array";
  const messages: unknown[] = [];
  const iterator = client[Symbol.asyncIterator]();
  await client.send("one");
  await client.send(new Uint8Array(100_000).fill(9));
  messages.push((await iterator.next()).value, (await iterator.next()).value);
  assert.deepEqual(messages, ["one", new Uint8Array(100_000).fill(9)]);
  client.close(1000, "bye");
  assert.deepEqual(await client.closed, { closeCode: 1000, reason: "bye" });
  assert.deepEqual(await serverClosed, [1000, "bye"]);
  await new Promise((resolve) => wss.close(resolve));
});
