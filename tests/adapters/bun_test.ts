/**
 * The `Bun.serve` adapter on real Bun (`_bun_server.ts` as a child process)
 * against real peers, driven from Deno.
 *
 * Run: `deno test -A tests/adapters/bun_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { BUN_CAPABILITIES } from "../../src/adapters/bun.ts";
import { decodeFrameHeader } from "../../src/frame.ts";
import { createClientHandshake, verifyServerHandshake } from "../../src/handshake.ts";
import { readResponseHead, writeRequestHead } from "../../src/http_head.ts";
import { concatBytes, frame, parseFrames, type WireFrame } from "../_fixtures.ts";
import { peerTest, REPO_ROOT, requireTool, spawnPeer } from "../_peers/mod.ts";
import { type ContractServer, contractTests, report, wsClosed, wsOpen } from "./_bun_clients.ts";
import { adapterSuite } from "./_suite.ts";

async function startBun(): Promise<ContractServer> {
  const peer = await spawnPeer(requireTool("bun").path, {
    args: ["run", "tests/adapters/_bun_server.ts"],
    cwd: REPO_ROOT,
    name: "Bun.serve adapter",
  });
  return {
    base: `ws://127.0.0.1:${peer.port}`,
    [Symbol.asyncDispose]: () => peer[Symbol.asyncDispose](),
  };
}

adapterSuite({
  name: "Bun.serve createBunWebSocket",
  tools: ["bun"],
  start: async () => {
    const server = await startBun();
    return { url: server.base, [Symbol.asyncDispose]: () => server[Symbol.asyncDispose]() };
  },
  // Bun cannot pause reading, so `/slow` is not served.
  capabilities: { serverPing: true, backpressure: false },
});

contractTests("Bun.serve createBunWebSocket", startBun, {
  capabilities: BUN_CAPABILITIES,
  tools: ["bun"],
});

Deno.test("Bun.serve: the capability row", () => {
  assert.deepEqual(BUN_CAPABILITIES, {
    ping: true,
    backpressure: false,
    compression: true,
    anyCloseCode: true,
  });
});

peerTest(
  "Bun.serve: permessage-deflate agreed with ws, close 1001 reaches the server",
  ["bun"],
  async () => {
    await using server = await startBun();
    const { ws, headers } = await wsOpen(`${server.base}/echo?id=z`);
    assert.match(String(headers["sec-websocket-extensions"]), /^permessage-deflate/);
    const closed = wsClosed(ws);
    ws.close(1001, "away");
    assert.deepEqual(await closed, { code: 1001, reason: "away" });
    assert.deepEqual(await report(server.base, "z"), { closeCode: 1001, reason: "away" });
  },
);

/**
 * Sends one masked text message over an upgrade made with the handshake
 * helpers (with or without a permessage-deflate offer) and returns the first
 * frame that comes back, as it was on the wire (no engine: RSV1 is read, not
 * acted on).
 */
async function echoOnTheWire(base: string, path: string, offer: boolean): Promise<WireFrame> {
  const handshake = createClientHandshake(`${base}${path}`, {
    extensions: offer ? "permessage-deflate" : undefined,
  });
  const conn = await Deno.connect({
    hostname: handshake.url.hostname,
    port: Number(handshake.url.port),
  });
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  try {
    await writer.write(writeRequestHead(handshake.request));
    // RFC 6455 §4.1: the client sends nothing more before the server's answer.
    const { head, rest } = await readResponseHead(reader);
    const { extensions } = await verifyServerHandshake(head, handshake.key, {
      protocols: [],
      extensions: offer ? ["permessage-deflate"] : [],
    });
    assert.equal(extensions.startsWith("permessage-deflate"), offer);
    const text = "compress me ".repeat(40);
    await writer.write(frame(0x1, text, { key: new Uint8Array([1, 2, 3, 4]) }));
    let bytes = rest;
    for (;;) {
      // The frame is complete once its length (7-bit or 16-bit here) is covered.
      const header = decodeFrameHeader(bytes, 0);
      if (header && bytes.length >= header.headerLength + header.payloadLength) {
        const [first] = parseFrames(
          bytes.subarray(0, header.headerLength + header.payloadLength),
        );
        if (!first.rsv1) assert.equal(new TextDecoder().decode(first.payload), text);
        return first;
      }
      const { value, done } = await reader.read();
      assert.ok(!done, "connection closed before the echo");
      bytes = concatBytes(bytes, value);
    }
  } finally {
    await reader.cancel().catch(() => {});
    await writer.abort().catch(() => {});
  }
}

peerTest(
  "Bun.serve: messages go out compressed only where permessage-deflate was agreed, and not when send() refuses it",
  ["bun"],
  async () => {
    await using server = await startBun();
    // Agreed: compressed by default (RFC 7692 §6: RSV1 on the first frame).
    const agreed = await echoOnTheWire(server.base, "/echo", true);
    assert.equal(agreed.rsv1, true, "agreed, yet sent uncompressed");
    // Agreed, but send(data, { compress: false }).
    const refused = await echoOnTheWire(server.base, "/plain", true);
    assert.equal(refused.rsv1, false, "compress: false, yet sent compressed");
    // Not offered: plain frames (Bun is then never asked to compress).
    const none = await echoOnTheWire(server.base, "/echo", false);
    assert.equal(none.rsv1, false);
    assert.equal(none.opcode, 0x1);
  },
);
