/**
 * permessage-deflate (RFC 7692) on the real runtimes: the node:http adapter's
 * server (`tests/adapters/_node_server.ts`, `/deflate/*`) on Node, Bun and
 * Deno against `ws`, python-websockets and Chromium, and our `connect()`
 * client on Node, Bun and Deno against a `ws` server.
 *
 * Node 20 and Bun take the mode where every message gets a fresh compressor
 * ending in a final block (`server_no_context_takeover` forced on a server,
 * `client_no_context_takeover` offered by a client); Deno keeps one
 * compressor per connection. Every connection goes through a small TCP proxy
 * that parses the frame headers in both directions, so the tests see on the
 * wire which messages carried RSV1, in how many frames and how many payload
 * bytes: compression is observed, not inferred.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect } from "../src/connect.ts";
import type { Message } from "../src/socket.ts";
import { bundleForNode } from "./adapters/_build.ts";
import { parseLine, text } from "./_peers/messages.ts";
import { runScript } from "./_peers/peers.ts";
import { type Peer, runToCompletion, spawnPeer } from "./_peers/process.ts";
import { peerTest, REPO_ROOT, requireTool, type Tool } from "./_peers/tools.ts";

type Runtime = "node" | "bun" | "deno";
const RUNTIMES: readonly Runtime[] = ["node", "bun", "deno"];

function toolsOf(runtime: Runtime): Tool[] {
  return runtime === "deno" ? [] : [runtime];
}

/** The command line that runs a TypeScript script of ours on a runtime. */
async function scriptCommand(runtime: Runtime, script: string): Promise<[string, string[]]> {
  switch (runtime) {
    case "node":
      return [requireTool("node").path, [await bundleForNode(script)]];
    case "bun":
      return [requireTool("bun").path, [script]];
    case "deno":
      return [Deno.execPath(), ["run", "-A", script]];
  }
}

async function startServer(runtime: Runtime): Promise<Peer> {
  const [command, args] = await scriptCommand(runtime, "tests/adapters/_node_server.ts");
  return await spawnPeer(command, { args, cwd: REPO_ROOT, name: `node:http on ${runtime}` });
}

// ---------------------------------------------------------------------------
// Payloads

/** Deterministic JSON-like text of about `size` UTF-16 code units (no astral characters). */
function jsonPayload(size: number, seed: number): string {
  const items: string[] = [];
  let length = 40;
  for (let i = 0; length < size; i++) {
    const item = JSON.stringify({
      id: seed * 100_000 + i,
      user: `user-${(i * 7 + seed) % 97}`,
      online: (i + seed) % 3 === 0,
      score: ((i * 7919 + seed) % 10_000) / 100,
      tags: ["alpha", "beta", "gamma", "delta"].slice(0, 1 + (i % 4)),
      note: i % 5 === 0 ? "héllo wörld ✓" : "ok",
    });
    items.push(item);
    length += item.length + 1;
  }
  return JSON.stringify({ type: "update", seed, items: "ITEMS" }).replace(
    '"ITEMS"',
    `[${items.join(",")}]`,
  );
}

function utf8Length(value: string): number {
  return new TextEncoder().encode(value).length;
}

/** A message a peer sends, split into `fragments` frames when the peer can. */
interface Outgoing {
  text: string;
  fragments: number;
}

const KIB = 1024;
const SMALL = jsonPayload(200, 1);
const MEDIUM = jsonPayload(16 * KIB, 2);
const LARGE = jsonPayload(300 * KIB, 3);
const LARGE_FRAGMENTED = jsonPayload(300 * KIB, 4);

/**
 * Small (below the 1024-byte default threshold), 16 KiB twice in a row (the
 * second can refer back to the first under context takeover), 300 KiB, and
 * 300 KiB in three frames.
 */
const OUTGOING: readonly Outgoing[] = [
  { text: SMALL, fragments: 1 },
  { text: MEDIUM, fragments: 1 },
  { text: MEDIUM, fragments: 1 },
  { text: LARGE, fragments: 1 },
  { text: LARGE_FRAGMENTED, fragments: 3 },
];
const THRESHOLD = 1024;

// ---------------------------------------------------------------------------
// A TCP proxy that reads the frame headers going by

/** One data message as it crossed the wire. */
interface WireMessage {
  opcode: number;
  /** RSV1 of the first frame: the message is compressed (RFC 7692 §6). */
  rsv1: boolean;
  frames: number;
  /** Payload bytes over all its frames. */
  bytes: number;
}

/**
 * Parses one direction of a connection: skips the HTTP head, then reads each
 * frame header (RFC 6455 §5.2), skipping payloads; keeps data messages and
 * the status codes of Close frames.
 */
class WireLog {
  readonly messages: WireMessage[] = [];
  readonly closeCodes: number[] = [];
  #headMatched = 0;
  #header: number[] = [];
  #frame = { fin: false, rsv1: false, opcode: 0, length: 0, mask: [0, 0, 0, 0] };
  #remaining = 0;
  #closePayload: number[] = [];
  #current: WireMessage | undefined;

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#headMatched < 4) {
        const byte = chunk[i++];
        const want = [13, 10, 13, 10][this.#headMatched];
        this.#headMatched = byte === want ? this.#headMatched + 1 : byte === 13 ? 1 : 0;
        continue;
      }
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, chunk.length - i);
        if (this.#frame.opcode === 8) {
          for (let k = 0; k < n; k++) {
            const at = this.#frame.length - this.#remaining + k;
            this.#closePayload.push(chunk[i + k] ^ this.#frame.mask[at % 4]);
          }
        }
        i += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#endFrame();
        continue;
      }
      this.#header.push(chunk[i++]);
      if (this.#header.length >= 2 && this.#header.length === headerLength(this.#header)) {
        this.#startFrame();
      }
    }
  }

  #startFrame(): void {
    const h = this.#header;
    const masked = (h[1] & 0x80) !== 0;
    let length = h[1] & 0x7f;
    let at = 2;
    if (length === 126) {
      length = (h[2] << 8) | h[3];
      at = 4;
    } else if (length === 127) {
      length = 0;
      for (let k = 2; k < 10; k++) length = length * 256 + h[k];
      at = 10;
    }
    this.#frame = {
      fin: (h[0] & 0x80) !== 0,
      rsv1: (h[0] & 0x40) !== 0,
      opcode: h[0] & 0x0f,
      length,
      mask: masked ? h.slice(at, at + 4) : [0, 0, 0, 0],
    };
    this.#header = [];
    this.#closePayload = [];
    this.#remaining = length;
    if (length === 0) this.#endFrame();
  }

  #endFrame(): void {
    const { fin, rsv1, opcode, length } = this.#frame;
    if (opcode === 8) {
      const p = this.#closePayload;
      this.closeCodes.push(p.length >= 2 ? (p[0] << 8) | p[1] : 1005);
      return;
    }
    if (opcode >= 8) return;
    if (opcode !== 0) this.#current = { opcode, rsv1, frames: 1, bytes: length };
    else if (this.#current) {
      this.#current.frames++;
      this.#current.bytes += length;
    }
    if (fin && this.#current) {
      this.messages.push(this.#current);
      this.#current = undefined;
    }
  }
}

function headerLength(h: number[]): number {
  const length = h[1] & 0x7f;
  return 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + ((h[1] & 0x80) !== 0 ? 4 : 0);
}

/** Both directions of one proxied connection. */
interface Tap {
  /** Client to server. */
  up: WireLog;
  /** Server to client. */
  down: WireLog;
}

/** Forwards 127.0.0.1 connections to `targetPort`, logging the frames both ways. */
function startProxy(targetPort: number): {
  port: number;
  taps: Tap[];
  [Symbol.asyncDispose](): Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const taps: Tap[] = [];
  const conns = new Set<Deno.Conn>();
  const piping: Promise<void>[] = [];
  const pump = async (from: Deno.Conn, to: Deno.Conn, log: WireLog): Promise<void> => {
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        log.feed(chunk);
        controller.enqueue(chunk);
      },
    });
    await from.readable.pipeThrough(tap).pipeTo(to.writable, { preventClose: true })
      .catch(() => {});
    await to.closeWrite().catch(() => {});
  };
  const loop = (async () => {
    for await (const client of listener) {
      const tap = { up: new WireLog(), down: new WireLog() };
      taps.push(tap);
      conns.add(client);
      piping.push(
        (async () => {
          const server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
          conns.add(server);
          await Promise.all([pump(client, server, tap.up), pump(server, client, tap.down)]);
        })().catch(() => {}).finally(() => {
          for (const conn of conns) {
            try {
              conn.close();
            } catch { /* already closed */ }
          }
        }),
      );
    }
  })();
  return {
    port: listener.addr.port,
    taps,
    async [Symbol.asyncDispose](): Promise<void> {
      listener.close();
      await loop.catch(() => {});
      // The peers closed their connections; give stragglers a moment, then cut them.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(piping),
        new Promise((resolve) => timer = setTimeout(resolve, 2000)),
      ]);
      clearTimeout(timer);
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      await Promise.all(piping);
    },
  };
}

// ---------------------------------------------------------------------------
// Assertions on what crossed the wire

/**
 * Our side's messages: below the threshold sent plain, the rest compressed to
 * a fraction of their size (JSON-like text deflates well over 4:1).
 */
function assertOurCompression(
  log: WireLog,
  sent: readonly string[],
  label: string,
): void {
  assert.equal(log.messages.length, sent.length, `${label}: messages on the wire`);
  sent.forEach((message, i) => {
    const size = utf8Length(message);
    const wire = log.messages[i];
    if (size < THRESHOLD) {
      assert.equal(wire.rsv1, false, `${label} #${i}: ${size} bytes sent compressed`);
      assert.equal(wire.bytes, size, `${label} #${i}`);
    } else {
      assert.equal(wire.rsv1, true, `${label} #${i}: ${size} bytes sent uncompressed`);
      assert.ok(wire.bytes < size / 4, `${label} #${i}: ${wire.bytes} wire bytes for ${size}`);
    }
  });
}

/**
 * The two identical 16 KiB messages (#1 and #2): a fresh compressor per
 * message (Node, Bun) gives byte-identical output; a kept context (Deno,
 * without `no_context_takeover`) makes the second refer back to the first.
 */
function assertContextMode(log: WireLog, contextKept: boolean, label: string): void {
  const [first, second] = [log.messages[1].bytes, log.messages[2].bytes];
  if (contextKept) {
    assert.ok(second < first / 4, `${label}: context kept, yet ${second} after ${first} bytes`);
  } else {
    // A fresh compressor ends each message in a final block plus 0x00 (RFC 7692 §7.2.3.4).
    assert.equal(second, first, `${label}: fresh compressor per message`);
  }
}

/** What our server answers: Node and Bun cannot flush per write, so always `server_no_context_takeover`. */
function expectedResponse(
  runtime: Runtime,
  offer: { serverNoContextTakeover: boolean; clientNoContextTakeover: boolean },
): string {
  const params = ["permessage-deflate"];
  if (offer.serverNoContextTakeover || runtime !== "deno") {
    params.push("server_no_context_takeover");
  }
  if (offer.clientNoContextTakeover) params.push("client_no_context_takeover");
  return params.join("; ");
}

// ---------------------------------------------------------------------------
// Scripted peers (inline, so offers and fragmentation can be set)

const WS_CLIENT = `
import { readFileSync } from "node:fs";
import WebSocket from "ws";
const { url, file, options } = JSON.parse(process.env.PEER_CONFIG);
const messages = JSON.parse(readFileSync(file, "utf8"));
const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0, ...options } });
let extensions = null;
ws.on("upgrade", (res) => { extensions = res.headers["sec-websocket-extensions"] ?? null; });
ws.on("open", () => {
  for (const { text, fragments } of messages) {
    const size = Math.ceil(text.length / fragments);
    for (let at = 0; at < text.length; at += size) {
      ws.send(text.slice(at, at + size), { fin: at + size >= text.length });
    }
  }
});
const received = [];
ws.on("message", (data, isBinary) => {
  received.push(isBinary ? null : data.toString());
  if (received.length === messages.length) ws.close(1000, "bye");
});
ws.on("close", (code) => {
  process.stdout.write("RESULT " + JSON.stringify({ received, extensions, closeCode: code }) + "\\n");
});
ws.on("error", (e) => { console.error(e); process.exit(1); });
`;

const WS_BOMB = `
import WebSocket from "ws";
const { url, size } = JSON.parse(process.env.PEER_CONFIG);
const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 } });
ws.on("open", () => ws.send(Buffer.alloc(size), { binary: true }));
ws.on("message", () => console.error("unexpected echo"));
ws.on("close", (code) => console.log("RESULT " + JSON.stringify({ closeCode: code })));
ws.on("error", (e) => { console.error(e); process.exit(1); });
`;

const WS_SERVER = `
import { WebSocketServer } from "ws";
const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true });
server.on("listening", () => console.log("LISTENING " + server.address().port));
server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
`;

// python-websockets: the legacy API (10.x) and the new one both take
// compression="deflate" (their default offer) and a list of str as fragments.
const PY_CLIENT = `
import asyncio, json, os
import websockets
cfg = json.loads(os.environ["PEER_CONFIG"])
with open(cfg["file"], encoding="utf-8") as f:
    messages = json.load(f)
async def main():
    async with websockets.connect(cfg["url"], compression="deflate", max_size=None) as ws:
        for m in messages:
            t, n = m["text"], m["fragments"]
            if n == 1:
                await ws.send(t)
            else:
                size = -(-len(t) // n)
                await ws.send([t[i:i + size] for i in range(0, len(t), size)])
        received = [await ws.recv() for _ in messages]
        headers = ws.response.headers if hasattr(ws, "response") else ws.response_headers
        extensions = headers.get("Sec-WebSocket-Extensions")
        await ws.close(1000, "bye")
    print("RESULT " + json.dumps({"received": received, "extensions": extensions,
                                  "closeCode": ws.close_code}))
asyncio.run(asyncio.wait_for(main(), 20))
`;

/** The deflate scripts get longer than the default: they move megabytes through a proxy. */
const SCRIPT_TIMEOUT_MS = 25_000;

interface ScriptResult {
  received: (string | null)[];
  extensions: string | null;
  closeCode: number;
}

/** A script client echoed {@linkcode SENT} back in order and closed with 1000. */
function assertEchoed(result: ScriptResult, label: string): void {
  assert.ok(result.received.every((m, k) => m === SENT[k]), `${label}: echoes differ`);
  assert.equal(result.received.length, SENT.length, label);
  assert.equal(result.closeCode, 1000, label);
}

/** [RSV1, frames] of what the ws and python clients send: all compressed, the last in 3 frames. */
const PEER_UP_FRAMES: [boolean, number][] = [
  [true, 1],
  [true, 1],
  [true, 1],
  [true, 1],
  [true, 3],
];

/** Writes the messages to a temporary JSON file (too long for an argument or a variable). */
async function messagesFile(value: unknown): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(path, JSON.stringify(value));
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path) };
}

// ---------------------------------------------------------------------------
// Our server on each runtime

const TAKEOVER_OFFERS = [
  { serverNoContextTakeover: false, clientNoContextTakeover: false },
  { serverNoContextTakeover: true, clientNoContextTakeover: false },
  { serverNoContextTakeover: false, clientNoContextTakeover: true },
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
];
const SENT = OUTGOING.map((m) => m.text);

for (const runtime of RUNTIMES) {
  peerTest(
    `RFC 7692 on ${runtime}: ws client -> node:http server, each takeover offer, fragments`,
    [...toolsOf(runtime), "node"],
    async () => {
      await using server = await startServer(runtime);
      await using proxy = startProxy(server.port);
      await using file = await messagesFile(OUTGOING);
      for (const [i, offer] of TAKEOVER_OFFERS.entries()) {
        const label = `${runtime} ws ${JSON.stringify(offer)}`;
        const result = await runScript<ScriptResult>("node", WS_CLIENT, {
          url: `ws://127.0.0.1:${proxy.port}/deflate/echo`,
          file: file.path,
          options: offer,
        }, SCRIPT_TIMEOUT_MS);
        assert.equal(result.extensions, expectedResponse(runtime, offer), label);
        assertEchoed(result, label);
        const { up, down } = proxy.taps[i];
        // ws compresses everything (threshold 0) and sent the last message in 3 frames.
        assert.deepEqual(up.messages.map((m) => [m.rsv1, m.frames]), PEER_UP_FRAMES, label);
        assertContextMode(up, !offer.clientNoContextTakeover, `${label} (ws)`);
        assertOurCompression(down, SENT, label);
        assertContextMode(
          down,
          runtime === "deno" && !offer.serverNoContextTakeover,
          `${label} (ours)`,
        );
      }
    },
  );

  peerTest(
    `RFC 7692 on ${runtime}: python-websockets client -> node:http server, fragments`,
    [...toolsOf(runtime), "python"],
    async () => {
      await using server = await startServer(runtime);
      await using proxy = startProxy(server.port);
      await using file = await messagesFile(OUTGOING);
      const label = `${runtime} python`;
      const result = await runScript<ScriptResult>("python", PY_CLIENT, {
        url: `ws://127.0.0.1:${proxy.port}/deflate/echo`,
        file: file.path,
      }, SCRIPT_TIMEOUT_MS);
      // python-websockets offers client_max_window_bits without a value: not answered.
      assert.equal(
        result.extensions,
        expectedResponse(runtime, {
          serverNoContextTakeover: false,
          clientNoContextTakeover: false,
        }),
      );
      assertEchoed(result, label);
      const { up, down } = proxy.taps[0];
      // python-websockets compresses everything; a fragmented send ends with an
      // empty final frame in some versions, hence at least 3 frames.
      assert.deepEqual(
        up.messages.map((m) => [m.rsv1, Math.min(m.frames, 3)]),
        PEER_UP_FRAMES,
        label,
      );
      assertContextMode(up, true, `${label} (python)`);
      assertOurCompression(down, SENT, label);
      assertContextMode(down, runtime === "deno", `${label} (ours)`);
    },
  );

  peerTest(
    `RFC 7692 on ${runtime}: Chromium -> node:http server`,
    [...toolsOf(runtime), "chromium"],
    async () => {
      await using server = await startServer(runtime);
      await using proxy = startProxy(server.port);
      const { launchBrowser } = await import("./_peers/browser.ts");
      await using browser = await launchBrowser();
      const label = `${runtime} chromium`;
      const result = await browser.echo(
        `ws://127.0.0.1:${proxy.port}/deflate/echo`,
        SENT.map((m) => text(m)),
      );
      // Chromium offers "permessage-deflate; client_max_window_bits".
      assert.equal(
        result.extensions,
        expectedResponse(runtime, {
          serverNoContextTakeover: false,
          clientNoContextTakeover: false,
        }),
      );
      assert.ok(
        result.received.every((m, k) => "text" in m && m.text === SENT[k]),
        `${label}: echoes differ`,
      );
      assert.equal(result.received.length, SENT.length, label);
      assert.equal(result.closeCode, 1000, label);
      const { up, down } = proxy.taps[0];
      assert.equal(up.messages.length, SENT.length, label);
      // Chromium compressed what it sent; our server inflated it.
      for (const [k, message] of SENT.entries()) {
        if (utf8Length(message) < THRESHOLD) continue;
        assert.equal(up.messages[k].rsv1, true, `${label} #${k}: Chromium sent it uncompressed`);
      }
      assertOurCompression(down, SENT, label);
      assertContextMode(down, runtime === "deno", `${label} (ours)`);
    },
    { sanitizeOps: false, sanitizeResources: false },
  );
}

for (const runtime of RUNTIMES) {
  peerTest(
    `RFC 7692 on ${runtime}: a small frame inflating past maxMessageSize closes with 1009`,
    [...toolsOf(runtime), "node"],
    async () => {
      await using server = await startServer(runtime);
      await using proxy = startProxy(server.port);
      // 4 MiB of zeros deflate to a few KiB; /deflate/limited allows 1 MiB.
      const result = await runScript<{ closeCode: number }>("node", WS_BOMB, {
        url: `ws://127.0.0.1:${proxy.port}/deflate/limited`,
        size: 4 * 1024 * 1024,
      }, SCRIPT_TIMEOUT_MS);
      assert.equal(result.closeCode, 1009);
      const { up, down } = proxy.taps[0];
      assert.equal(up.messages.length, 1);
      assert.equal(up.messages[0].rsv1, true);
      assert.ok(up.messages[0].bytes < 16 * 1024, `${up.messages[0].bytes} bytes on the wire`);
      // RFC 6455 §7.4.1: 1009 from our server, and no echo.
      assert.deepEqual(down.closeCodes, [1009]);
      assert.equal(down.messages.length, 0);
      // The server lives on.
      const socket = connect(`ws://127.0.0.1:${server.port}/deflate/echo`, {
        perMessageDeflate: true,
      });
      await socket.opened;
      await socket.send(MEDIUM);
      let echo: Message | undefined;
      for await (const message of socket) {
        echo = message;
        break;
      }
      assert.equal(echo, MEDIUM);
      socket.close(1000);
      await socket.closed;
    },
  );
}

// ---------------------------------------------------------------------------
// Our client on each runtime

interface ClientReport {
  extensions: string;
  echoes: { length: number; equal: boolean }[];
  closeCode: number;
}

/** Runs `_deflate_client.ts` on a runtime: it sends {@linkcode SENT} and checks each echo. */
async function runOurClient(runtime: Runtime, url: string): Promise<ClientReport> {
  await using file = await messagesFile(SENT);
  const [command, args] = await scriptCommand(runtime, "tests/adapters/_deflate_client.ts");
  const out = await runToCompletion(command, {
    args: [...args, url, file.path],
    cwd: REPO_ROOT,
    timeoutMs: 25_000,
  });
  const report = parseLine<ClientReport>(out.stdout, "RESULT");
  if (out.code !== 0 || report === null) {
    throw new Error(`Client on ${runtime} failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
  }
  assert.deepEqual(
    report.echoes,
    SENT.map((m) => ({ length: m.length, equal: true })),
    `our client on ${runtime}: echoes`,
  );
  assert.equal(report.closeCode, 1000);
  return report;
}

for (const runtime of RUNTIMES) {
  peerTest(
    `RFC 7692 on ${runtime}: our connect() client -> ws server`,
    [...toolsOf(runtime), "node"],
    async () => {
      await using server = await spawnPeer(requireTool("node").path, {
        args: ["--input-type=module", "-e", WS_SERVER],
        cwd: REPO_ROOT,
        name: "ws server",
      });
      await using proxy = startProxy(server.port);
      const label = `our client on ${runtime}`;
      const report = await runOurClient(runtime, `ws://127.0.0.1:${proxy.port}/`);
      // Without a per-write flush (Node, Bun) the client offers
      // client_no_context_takeover, and ws accepts it by echoing it.
      assert.equal(
        report.extensions,
        runtime === "deno"
          ? "permessage-deflate"
          : "permessage-deflate; client_no_context_takeover",
        label,
      );
      const { up, down } = proxy.taps[0];
      assertOurCompression(up, SENT, label);
      assertContextMode(up, runtime === "deno", `${label} (ours)`);
      // ws keeps its context: the repeated message refers back to the first,
      // which our client resolves from its kept 32 KiB window.
      assert.ok(down.messages.slice(1).every((m) => m.rsv1), label);
      assertContextMode(down, true, `${label} (ws)`);
    },
  );
}

// Our client and our server on different runtimes: the final-block messages
// of Node and Bun reach the inflaters of Bun, Deno and Node.
for (const [client, server] of [["node", "bun"], ["bun", "deno"], ["deno", "node"]] as const) {
  peerTest(
    `RFC 7692: our connect() client on ${client} -> node:http server on ${server}`,
    [...toolsOf(client), ...toolsOf(server)],
    async () => {
      await using peer = await startServer(server);
      await using proxy = startProxy(peer.port);
      const label = `client on ${client}, server on ${server}`;
      const report = await runOurClient(client, `ws://127.0.0.1:${proxy.port}/deflate/echo`);
      assert.equal(
        report.extensions,
        expectedResponse(server, {
          serverNoContextTakeover: false,
          clientNoContextTakeover: client !== "deno",
        }),
        label,
      );
      const { up, down } = proxy.taps[0];
      assertOurCompression(up, SENT, `${label} (client)`);
      assertContextMode(up, client === "deno", `${label} (client)`);
      assertOurCompression(down, SENT, `${label} (server)`);
      assertContextMode(down, server === "deno", `${label} (server)`);
    },
  );
}
