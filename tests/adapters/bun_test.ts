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
