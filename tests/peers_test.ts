/**
 * Proves every peer in `tests/_peers/` works by pairing them with each other:
 * echo content, subprotocol and extension negotiation, close codes.
 *
 * Run: `deno test -A tests/peers_test.ts`. Missing tools skip loudly, or fail
 * with `EDGESOCKET_CI=1`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  binary,
  type ClientKind,
  parseLine,
  type PeerMessage,
  type PeerResult,
  peerTest,
  requireTool,
  runClient,
  type ServerConnectionInfo,
  type ServerKind,
  spawnPeer,
  startEchoServer,
  text,
  toolsFor,
  wsUrl,
} from "./_peers/mod.ts";
import { launchBrowser } from "./_peers/browser.ts";

/** Small but varied: multi-byte UTF-8, empty frames, every byte value. */
const MESSAGES: PeerMessage[] = [
  text("hello"),
  text("héllo wörld — ✓ 🦕"),
  text(""),
  binary(Uint8Array.from({ length: 256 }, (_, i) => i)),
  binary(new Uint8Array(0)),
  text("x".repeat(70_000)),
];

/** Kinds whose WebSocket can speak permessage-deflate. */
const DEFLATE_CLIENTS: ReadonlySet<ClientKind | "chromium"> = new Set([
  "python",
  "ws-node",
  "ws-bun",
  "bun-native",
  "chromium",
]);
const DEFLATE_SERVERS: ReadonlySet<ServerKind> = new Set([
  "python",
  "ws-node",
  "ws-bun",
  "bun-native",
]);

const SERVER_PROTOCOLS = ["chat.v2", "chat.v1"];
const CLIENT_PROTOCOLS = ["chat.v1", "chat.v2", "other"];

function assertExchange(
  result: PeerResult,
  expected: { protocol: string | null; deflate: boolean; closeCode?: number; reason?: string },
): void {
  assert.deepEqual(result.received, MESSAGES);
  assert.deepEqual(result.protocol, expected.protocol);
  if (expected.deflate) {
    assert.ok(result.extensions !== null, "expected permessage-deflate to be negotiated");
    assert.match(result.extensions, /^permessage-deflate\b/);
  } else {
    assert.deepEqual(result.extensions, null);
  }
  assert.deepEqual(result.closeCode, expected.closeCode ?? 1000);
  assert.deepEqual(result.closeReason, expected.reason ?? "bye");
}

function serverSaw(
  lines: readonly string[],
): { connection: ServerConnectionInfo; closed: { code: number; reason: string } } {
  const output = lines.join("\n");
  const connection = parseLine<ServerConnectionInfo>(output, "CONNECTION");
  const closed = parseLine<{ code: number; reason: string }>(output, "CLOSED");
  assert.ok(
    connection !== null && closed !== null,
    `server output lacks CONNECTION/CLOSED:\n${output}`,
  );
  return { connection, closed };
}

interface Pairing {
  client: ClientKind;
  server: ServerKind;
  compression: boolean;
}

const PAIRINGS: Pairing[] = [
  { client: "python", server: "ws-node", compression: true },
  { client: "ws-node", server: "python", compression: true },
  { client: "python", server: "python", compression: false },
  { client: "ws-node", server: "ws-node", compression: false },
  { client: "deno-native", server: "python", compression: true },
  { client: "deno-native", server: "ws-node", compression: true },
  { client: "bun-native", server: "python", compression: true },
  { client: "bun-native", server: "ws-node", compression: true },
  { client: "ws-bun", server: "python", compression: true },
  { client: "python", server: "ws-bun", compression: true },
  { client: "python", server: "deno-native", compression: true },
  { client: "ws-node", server: "bun-native", compression: true },
  { client: "deno-native", server: "bun-native", compression: true },
  { client: "bun-native", server: "deno-native", compression: true },
];

for (const { client, server, compression } of PAIRINGS) {
  const name = `${client} client ↔ ${server} server` +
    (compression ? " (subprotocol, deflate offered)" : " (no subprotocol, compression off)");
  peerTest(name, [...new Set([...toolsFor(client), ...toolsFor(server)])], async () => {
    await using peer = await startEchoServer(server, {
      protocols: compression ? SERVER_PROTOCOLS : [],
      compression,
    });
    const result = await runClient(client, wsUrl(peer, "/echo?x=1"), MESSAGES, {
      protocols: compression ? CLIENT_PROTOCOLS : [],
      compression,
    });
    assertExchange(result, {
      // Servers pick by their own preference order.
      protocol: compression ? "chat.v2" : null,
      deflate: compression && DEFLATE_CLIENTS.has(client) && DEFLATE_SERVERS.has(server),
    });
    await peer.waitForLine(/^CLOSED /);
    const { connection, closed } = serverSaw(peer.lines);
    assert.deepEqual(connection.path, "/echo?x=1");
    assert.deepEqual(connection.protocol, compression ? "chat.v2" : null);
    assert.deepEqual(closed, { code: 1000, reason: "bye" });
  });
}

peerTest("python client ↔ ws-node server: custom close code is echoed", [
  "python",
  "node",
], async () => {
  await using peer = await startEchoServer("ws-node");
  const result = await runClient("python", wsUrl(peer), [text("a")], {
    closeCode: 4001,
    closeReason: "custom ✓",
  });
  assert.deepEqual(result.closeCode, 4001);
  assert.deepEqual(result.closeReason, "custom ✓");
});

peerTest("large messages via --messages-file both ways (python ↔ ws-node)", [
  "python",
  "node",
], async () => {
  const big = [text("é".repeat(150_000)), binary(new Uint8Array(300_000).fill(7))];
  for (const [client, server] of [["python", "ws-node"], ["ws-node", "python"]] as const) {
    await using peer = await startEchoServer(server);
    const result = await runClient(client, wsUrl(peer), big);
    assert.deepEqual(result.received, big);
    assert.match(result.extensions ?? "", /^permessage-deflate/);
  }
});

peerTest("ws client fails when the server selects no subprotocol; python accepts", [
  "python",
  "node",
], async () => {
  await using peer = await startEchoServer("python", { protocols: ["a"] });
  await assert.rejects(
    () => runClient("ws-node", wsUrl(peer), [text("x")], { protocols: ["b"] }),
    /Server sent no subprotocol/,
  );
  const result = await runClient("python", wsUrl(peer), [text("x")], { protocols: ["b"] });
  assert.deepEqual(result.protocol, null);
});

peerTest("spawnPeer reports early exit with stderr, and times out", ["python"], async () => {
  await assert.rejects(
    () =>
      spawnPeer(requireTool("python").path, { args: ["-c", "import sys; sys.exit('boom here')"] }),
    /exited before printing.*boom here/s,
  );
  await assert.rejects(
    () =>
      spawnPeer(requireTool("python").path, {
        args: ["-c", "import time; print('hi', flush=True); time.sleep(30)"],
        timeoutMs: 300,
      }),
    /within 300 ms/,
  );
});

peerTest("chromium ↔ ws-node, python, deno-native, bun-native servers", [
  "chromium",
  "python",
  "node",
  "bun",
], async () => {
  await using browser = await launchBrowser();
  for (const server of ["ws-node", "python", "deno-native", "bun-native"] as const) {
    await using peer = await startEchoServer(server, { protocols: SERVER_PROTOCOLS });
    const result = await browser.echo(wsUrl(peer), MESSAGES, { protocols: CLIENT_PROTOCOLS });
    assertExchange(result, { protocol: "chat.v2", deflate: DEFLATE_SERVERS.has(server) });
    await peer.waitForLine(/^CLOSED /);
    const { connection } = serverSaw(peer.lines);
    assert.match(connection.requestExtensions ?? "", /permessage-deflate/);
  }
  // Compression off on the server: Chromium offers, nobody accepts.
  await using plain = await startEchoServer("python", { compression: false });
  const result = await browser.echo(wsUrl(plain), MESSAGES);
  assertExchange(result, { protocol: null, deflate: false });
}, { sanitizeOps: false, sanitizeResources: false });

peerTest("chromium openPages: N pages load an http page that connects", [
  "chromium",
  "node",
], async () => {
  await using echo = await startEchoServer("ws-node");
  const html = `<!doctype html><title>wait</title><script>
    const ws = new WebSocket(new URLSearchParams(location.search).get("ws"));
    ws.onopen = () => ws.send("hi " + location.search.length);
    ws.onmessage = (e) => { document.title = "got " + e.data; };
  </script>`;
  await using http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(html, { headers: { "content-type": "text/html" } }),
  );
  await using browser = await launchBrowser();
  const url = `http://127.0.0.1:${http.addr.port}/?ws=${encodeURIComponent(wsUrl(echo))}`;
  const pages = await browser.openPages(url, 3);
  assert.deepEqual(pages.length, 3);
  for (const page of pages) {
    // A string expression: the test file has no DOM types.
    await page.waitForFunction(`document.title.startsWith("got ")`, null, { timeout: 10_000 });
    assert.match(await page.title(), /^got hi \d+$/);
  }
  await echo.waitForLine(/^CONNECTION /);
  assert.deepEqual(echo.lines.filter((l) => l.startsWith("CONNECTION ")).length, 3);
}, { sanitizeOps: false, sanitizeResources: false });
