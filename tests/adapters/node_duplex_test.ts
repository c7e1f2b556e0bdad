/**
 * The node:net bridge's push mode (`DirectTransport.listen`, `pause`,
 * `resume`) over real loopback sockets: order, backpressure and the end.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { nodeSocketToDuplex } from "../../src/adapters/node.ts";
import type { DirectReceiver, DirectTransport } from "../../src/connection.ts";

/** A connected pair: `near` is bridged, `far` is the plain peer writing to it. */
async function pair(): Promise<{ near: DirectTransport; far: Socket; close(): Promise<void> }> {
  const accepted = Promise.withResolvers<Socket>();
  const server = createServer((socket) => accepted.resolve(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const far = connect({ host: "127.0.0.1", port });
  const connected = new Promise<void>((resolve) => far.once("connect", () => resolve()));
  const near = nodeSocketToDuplex(await accepted.promise).direct!;
  await connected;
  return {
    near,
    far,
    close: async () => {
      // Wait for both ends to be fully closed: no socket op may outlive the test.
      const farClosed = far.closed
        ? Promise.resolve()
        : new Promise<void>((resolve) => far.once("close", () => resolve()));
      far.destroy();
      near.destroy();
      await farClosed;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Records what the transport delivers. */
function recorder(): DirectReceiver & { text(): string; ends: unknown[] } {
  const decoder = new TextDecoder();
  let received = "";
  const ends: unknown[] = [];
  return {
    data(chunk) {
      received += decoder.decode(chunk, { stream: true });
    },
    end(error) {
      ends.push(error);
    },
    text: () => received,
    ends,
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(condition(), "timed out");
}

Deno.test("node bridge push mode: bytes that came before listen() go first, then the end, once", async () => {
  const { near, far, close } = await pair();
  far.write("early ");
  // Let the early bytes reach the bridge's queue before anyone listens.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const receiver = recorder();
  near.listen!(receiver);
  assert.equal(receiver.text(), "", "queued bytes are not delivered from within listen()");
  await until(() => receiver.text() === "early ");
  far.end("late");
  await until(() => receiver.ends.length === 1);
  assert.equal(receiver.text(), "early late");
  assert.deepEqual(receiver.ends, [undefined]);
  await close();
  assert.equal(receiver.ends.length, 1);
});

Deno.test("node bridge push mode: nothing arrives while paused; resume delivers it, then the end", async () => {
  const { near, far, close } = await pair();
  const receiver = recorder();
  near.listen!(receiver);
  far.write("a");
  await until(() => receiver.text() === "a");
  near.pause!();
  far.end("b");
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(receiver.text(), "a");
  assert.equal(receiver.ends.length, 0);
  near.resume!();
  assert.equal(receiver.text(), "a", "resume() does not deliver from within the call");
  await until(() => receiver.ends.length === 1);
  assert.equal(receiver.text(), "ab");
  await close();
});

Deno.test("node bridge push mode: destroy() while paused still delivers the end", async () => {
  const { near, far, close } = await pair();
  const receiver = recorder();
  near.listen!(receiver);
  near.pause!();
  far.write("dropped");
  await new Promise((resolve) => setTimeout(resolve, 50));
  near.destroy();
  assert.equal(receiver.ends.length, 1);
  assert.equal(receiver.text(), "");
  await close();
});

Deno.test("node bridge writeMany: chunks go out in order after earlier writes; rejects once destroyed", async () => {
  const { near, far, close } = await pair();
  const received: Uint8Array[] = [];
  far.on("data", (chunk: Uint8Array) => received.push(chunk));
  const bytes = (text: string) => new TextEncoder().encode(text);
  const first = near.write(bytes("0:"));
  const many = near.writeMany!([bytes("a"), new Uint8Array(300_000).fill(98), bytes("c")]);
  await Promise.all([first, many]);
  const total = 2 + 1 + 300_000 + 1;
  await until(() => received.reduce((sum, chunk) => sum + chunk.length, 0) === total);
  const all = new Uint8Array(total);
  let at = 0;
  for (const chunk of received) {
    all.set(chunk, at);
    at += chunk.length;
  }
  assert.equal(new TextDecoder().decode(all.subarray(0, 3)), "0:a");
  assert.ok(all.subarray(3, 300_003).every((byte) => byte === 98));
  assert.equal(all[total - 1], 99);
  near.destroy();
  await assert.rejects(near.writeMany!([bytes("x"), bytes("y")]));
  await close();
});
