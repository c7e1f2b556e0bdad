import assert from "node:assert/strict";
import { createDuplexPair, createWebSocketPair } from "../src/pair.ts";
import { EdgeSocket } from "../src/socket.ts";

Deno.test("createDuplexPair: bytes cross over both ways, as copies", async () => {
  const [a, b] = createDuplexPair();
  const aWriter = a.writable.getWriter();
  const bWriter = b.writable.getWriter();
  const chunk = new Uint8Array([1, 2, 3]);
  await aWriter.write(chunk);
  chunk[0] = 99; // Once written, the transport holds its own copy.
  const bReader = b.readable.getReader();
  assert.deepEqual((await bReader.read()).value, new Uint8Array([1, 2, 3]));
  await bWriter.write(new Uint8Array([4]));
  const aReader = a.readable.getReader();
  assert.deepEqual((await aReader.read()).value, new Uint8Array([4]));
  await aWriter.close();
  assert.equal((await bReader.read()).done, true, "closing a writable ends the other readable");
  await bWriter.close();
  assert.equal((await aReader.read()).done, true);
});

Deno.test("createDuplexPair: about 64 KiB may be in flight before writes wait", async () => {
  const [a, b] = createDuplexPair();
  const writer = a.writable.getWriter();
  let settled = 0;
  const writes = Array.from(
    { length: 8 },
    () => writer.write(new Uint8Array(16 * 1024)).then(() => settled++),
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(settled < 8, `settled ${settled}`);
  assert.ok((writer.desiredSize ?? 0) <= 0);
  // Reading drains it.
  const reader = b.readable.getReader();
  let total = 0;
  while (total < 8 * 16 * 1024) total += (await reader.read()).value!.length;
  await Promise.all(writes);
  assert.equal(settled, 8);
});

Deno.test("createWebSocketPair: two open sockets", async () => {
  const [client, server] = createWebSocketPair({ protocol: "chat" });
  assert.ok(client instanceof EdgeSocket);
  assert.equal(client.readyState, EdgeSocket.OPEN);
  assert.equal(server.readyState, EdgeSocket.OPEN);
  assert.equal(client.protocol, "chat");
  assert.equal(server.protocol, "chat");
  assert.equal(client.url, "ws://in-memory/");
  assert.deepEqual(client.capabilities, {
    ping: true,
    backpressure: true,
    compression: client.capabilities.compression,
    anyCloseCode: true,
  });
  client.close();
  assert.deepEqual(await server.closed, { closeCode: 1005, reason: "" });
  assert.deepEqual(await client.closed, { closeCode: 1005, reason: "" });
});

Deno.test("createWebSocketPair: a message sent at once reaches a listener attached at once", async () => {
  const [client, server] = createWebSocketPair();
  const sent = client.send("early");
  const received = new Promise((resolve) => server.onmessage = (event) => resolve(event.data));
  const opened = new Promise((resolve) => server.onopen = resolve);
  await sent;
  assert.equal(await received, "early");
  await opened;
  client.close(1000);
  await server.closed;
});

Deno.test("createWebSocketPair: options apply to both sides", async () => {
  const [client, server] = createWebSocketPair({ maxMessageSize: 4 });
  const clientError = new Promise<string>((resolve) =>
    client.onerror = (event) => resolve(event.error.code)
  );
  await server.send("12345");
  assert.equal(await clientError, "WS_ERR_MESSAGE_TOO_BIG");
  const close = await new Promise<CloseEvent | { code: number }>((resolve) =>
    server.onclose = resolve
  );
  assert.equal(close.code, 1009);
});

Deno.test("createWebSocketPair: many messages both ways arrive in order", async () => {
  const [client, server] = createWebSocketPair();
  server.onmessage = (event) => server.send(event.data);
  client.binaryType = "uint8array";
  const received: unknown[] = [];
  const done = new Promise<void>((resolve) => {
    client.onmessage = (event) => {
      received.push(event.data);
      if (received.length === 200) resolve();
    };
  });
  const expected: unknown[] = [];
  for (let i = 0; i < 200; i++) {
    const message = i % 2 ? `text ${i} 😀` : new Uint8Array(i * 37).fill(i);
    expected.push(message);
    client.send(message);
  }
  await done;
  assert.deepEqual(received, expected);
  client.close(1000);
  await server.closed;
});
