/**
 * permessage-deflate interop: our server and client against `ws` (Node),
 * python-websockets and Chromium, in both directions and with each
 * context-takeover combination. Byte counters on our side of the TCP
 * connection prove that both directions really were compressed.
 */

import assert from "node:assert/strict";
import {
  type ByteDuplex,
  type DeflateOptions,
  type EdgeSocket,
  openWebSocket,
  upgradeConnection,
} from "@edgesocket/core";
import {
  binary,
  type PeerMessage,
  peerTest,
  REPO_ROOT,
  requireTool,
  runScript,
  spawnPeer,
  text,
} from "./_peers/mod.ts";

const COMBOS: { serverNoContextTakeover: boolean; clientNoContextTakeover: boolean }[] = [
  { serverNoContextTakeover: false, clientNoContextTakeover: false },
  { serverNoContextTakeover: true, clientNoContextTakeover: false },
  { serverNoContextTakeover: false, clientNoContextTakeover: true },
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
];

/** JSON-like messages from a few bytes to 80 KiB (past the 16 KiB flush slices), plus binary. */
function messages(): PeerMessage[] {
  const out: PeerMessage[] = [];
  for (const n of [1, 3, 10, 40, 200, 900]) {
    out.push(text(JSON.stringify({
      type: "update",
      items: Array.from(
        { length: n },
        (_, i) => ({ id: i, name: `user-${i % 13}`, online: i % 2 === 0 }),
      ),
    })));
  }
  out.push(text("héllo wörld ✓ ".repeat(500)));
  out.push(binary(new TextEncoder().encode("binary payload ".repeat(300))));
  out.push(text(JSON.stringify({ type: "update", items: [] })));
  return out;
}

function payloadBytes(list: readonly PeerMessage[]): number {
  return list.reduce(
    (n, m) => n + ("text" in m ? new TextEncoder().encode(m.text).length : atob(m.binary).length),
    0,
  );
}

interface Counted {
  duplex: ByteDuplex;
  stats: { read: number; written: number };
}

/** Wraps a connection, counting the bytes that cross it. */
function counted(conn: Deno.Conn): Counted {
  const stats = { read: 0, written: 0 };
  const readable = conn.readable.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        stats.read += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  );
  const out = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      stats.written += chunk.length;
      controller.enqueue(chunk);
    },
  });
  out.readable.pipeTo(conn.writable).catch(() => {});
  return { duplex: { readable, writable: out.writable }, stats };
}

/** Our echo server on Deno.listen, counting bytes per connection. */
function ourServer(options: DeflateOptions): {
  port: number;
  connections: { socket: EdgeSocket; stats: Counted["stats"] }[];
  [Symbol.asyncDispose](): Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: { socket: EdgeSocket; stats: Counted["stats"] }[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      const { duplex, stats } = counted(conn);
      upgradeConnection(duplex, { perMessageDeflate: { threshold: 0, ...options } }).then(
        (socket) => {
          connections.push({ socket, stats });
          socket.addEventListener("message", (e) => socket.send((e as MessageEvent).data));
        },
        () => {},
      );
    }
  })();
  return {
    port: listener.addr.port,
    connections,
    async [Symbol.asyncDispose]() {
      for (const { socket } of connections) await socket.closed.catch(() => {});
      listener.close();
      await loop.catch(() => {});
    },
  };
}

/** Runs our client against a server: sends the messages, checks the echoes. */
async function ourClient(
  port: number,
  list: readonly PeerMessage[],
  options: DeflateOptions,
): Promise<{ extensions: string; stats: Counted["stats"] }> {
  const conn = counted(await Deno.connect({ hostname: "127.0.0.1", port }));
  const socket = openWebSocket(`ws://127.0.0.1:${port}/`, conn.duplex, {
    perMessageDeflate: { threshold: 0, ...options },
  });
  socket.binaryType = "uint8array";
  const { extensions } = await socket.opened;
  const received: PeerMessage[] = [];
  const done = Promise.withResolvers<void>();
  socket.addEventListener("message", (e) => {
    const data = (e as MessageEvent).data;
    received.push(typeof data === "string" ? text(data) : binary(data));
    if (received.length === list.length) done.resolve();
  });
  socket.addEventListener("close", () => done.resolve());
  for (const message of list) {
    socket.send(
      "text" in message
        ? message.text
        : Uint8Array.from(atob(message.binary), (c) => c.charCodeAt(0)),
    );
  }
  await done.promise;
  socket.close(1000, "bye");
  await socket.closed;
  assert.deepEqual(received, list);
  return { extensions, stats: conn.stats };
}

// --- scripted peers (inline, so each takeover option can be set) -----------

const WS_CLIENT = `
import { WebSocket } from "ws";
const { url, messages, options } = JSON.parse(process.env.PEER_CONFIG);
const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0, ...options } });
let extensions = null;
ws.on("upgrade", (res) => { extensions = res.headers["sec-websocket-extensions"] ?? null; });
const received = [];
ws.on("message", (data, isBinary) => {
  received.push(isBinary ? { binary: Buffer.from(data).toString("base64") } : { text: data.toString() });
  if (received.length === messages.length) ws.close(1000, "bye");
});
ws.on("open", () => {
  for (const m of messages) {
    ws.send("text" in m ? m.text : Buffer.from(m.binary, "base64"), { binary: !("text" in m) });
  }
});
ws.on("close", (code) => {
  console.log("RESULT " + JSON.stringify({ received, extensions, closeCode: code }));
});
ws.on("error", (e) => { console.error(e); process.exit(1); });
`;

const WS_SERVER = `
import { WebSocketServer } from "ws";
const options = JSON.parse(process.env.PEER_CONFIG).options;
const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: { threshold: 0, ...options } });
server.on("listening", () => console.log("LISTENING " + server.address().port));
server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
`;

const PY_COMMON = `
import asyncio, base64, json, os, sys
import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory)
cfg = json.loads(os.environ["PEER_CONFIG"])
opts = cfg["options"]
kw = dict(server_no_context_takeover=opts.get("serverNoContextTakeover", False),
          client_no_context_takeover=opts.get("clientNoContextTakeover", False))
`;

const PY_CLIENT = PY_COMMON + `
async def main():
    async with websockets.connect(cfg["url"], compression=None, max_size=None,
            extensions=[ClientPerMessageDeflateFactory(**kw)]) as ws:
        for m in cfg["messages"]:
            await ws.send(m["text"] if "text" in m else base64.b64decode(m["binary"]))
        received = []
        for _ in cfg["messages"]:
            data = await ws.recv()
            received.append({"text": data} if isinstance(data, str)
                            else {"binary": base64.b64encode(data).decode()})
        ext = ws.response_headers.get("Sec-WebSocket-Extensions")
    print("RESULT " + json.dumps({"received": received, "extensions": ext, "closeCode": ws.close_code}))
asyncio.run(main())
`;

const PY_SERVER = PY_COMMON + `
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    server = await websockets.serve(echo, "127.0.0.1", 0, compression=None, max_size=None,
        extensions=[ServerPerMessageDeflateFactory(**kw)])
    print("LISTENING %d" % server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Future()
asyncio.run(main())
`;

interface ScriptResult {
  received: PeerMessage[];
  extensions: string | null;
  closeCode: number;
}

function assertCompressed(stats: Counted["stats"], payload: number, label: string): void {
  // Both directions carried the whole payload in far fewer bytes.
  assert.ok(stats.read < payload / 3, `${label}: read ${stats.read} for ${payload} bytes`);
  assert.ok(stats.written < payload / 3, `${label}: wrote ${stats.written} for ${payload} bytes`);
}

function expectParams(
  extensions: string | null,
  combo: (typeof COMBOS)[number],
  label: string,
): void {
  assert.ok(extensions?.startsWith("permessage-deflate"), `${label}: ${extensions}`);
  if (combo.serverNoContextTakeover) {
    assert.match(extensions!, /server_no_context_takeover/, label);
  }
  if (combo.clientNoContextTakeover) {
    assert.match(extensions!, /client_no_context_takeover/, label);
  }
}

const list = messages();
const payload = payloadBytes(list);

for (const [tool, script] of [["node", WS_CLIENT], ["python", PY_CLIENT]] as const) {
  const peer = tool === "node" ? "ws" : "python-websockets";
  peerTest(
    `RFC 7692 interop: ${peer} client -> our server, each takeover combination`,
    [tool],
    async () => {
      for (const combo of COMBOS) {
        const label = `${peer} client ${JSON.stringify(combo)}`;
        await using server = ourServer({});
        const result = await runScript<ScriptResult>(tool, script, {
          url: `ws://127.0.0.1:${server.port}/`,
          messages: list,
          options: combo,
        });
        assert.deepEqual(result.received, list, label);
        expectParams(result.extensions, combo, label);
        assert.equal(server.connections[0].socket.extensions, result.extensions, label);
        assertCompressed(server.connections[0].stats, payload, label);
      }
    },
  );
}

for (const [tool, script] of [["node", WS_SERVER], ["python", PY_SERVER]] as const) {
  const peer = tool === "node" ? "ws" : "python-websockets";
  peerTest(
    `RFC 7692 interop: our client -> ${peer} server, each takeover combination`,
    [tool],
    async () => {
      for (const combo of COMBOS) {
        const label = `${peer} server ${JSON.stringify(combo)}`;
        await using server = await spawnPeer(requireTool(tool).path, {
          args: tool === "node" ? ["--input-type=module", "-e", script] : ["-c", script],
          cwd: REPO_ROOT,
          env: { PEER_CONFIG: JSON.stringify({ options: combo }) },
          name: label,
        });
        // The client asks for what the server is configured with, so the
        // agreed parameters are the combination under test either way.
        const { extensions, stats } = await ourClient(server.port, list, combo);
        expectParams(extensions, combo, label);
        assertCompressed(stats, payload, label);
      }
    },
  );
}

peerTest("RFC 7692 interop: Chromium (offers permessage-deflate by default) -> our server", [
  "chromium",
], async () => {
  const { browserEcho } = await import("./_peers/browser.ts");
  for (
    const options of [{}, { serverNoContextTakeover: true }, { clientNoContextTakeover: true }]
  ) {
    await using server = ourServer(options);
    const result = await browserEcho(`ws://127.0.0.1:${server.port}/`, list);
    assert.deepEqual(result.received, list);
    assert.match(result.extensions ?? "", /^permessage-deflate/);
    assert.equal(server.connections[0].socket.extensions, result.extensions);
    assertCompressed(server.connections[0].stats, payload, `chromium ${JSON.stringify(options)}`);
  }
}, { sanitizeOps: false, sanitizeResources: false });
