/**
 * The node:http adapter on Node, Bun and Deno: the shared suite against the
 * same server script on each runtime, the lifecycle timers, interop with
 * real peers, and the `connect()` client against real servers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect } from "../../src/connect.ts";
import type { EdgeSocket, Message } from "../../src/socket.ts";
import { dialNode } from "../../src/adapters/node.ts";
import { binary, fromBase64, type PeerMessage, text } from "../_peers/messages.ts";
import {
  CLIENT_KINDS,
  runClient,
  SERVER_KINDS,
  startEchoServer,
  toolsFor,
  wsUrl,
} from "../_peers/peers.ts";
import { spawnPeer } from "../_peers/process.ts";
import { peerTest, REPO_ROOT, requireTool, shouldSkip, type Tool } from "../_peers/tools.ts";
import { bundleForNode } from "./_build.ts";
import { adapterSuite, openRawClient, type RunningServer } from "./_suite.ts";

async function next(socket: EdgeSocket): Promise<Message> {
  for await (const message of socket) return message;
  throw new Error("Socket closed before a message arrived");
}

/**
 * Asserts two messages are equal, naming the first difference (a `deepEqual`
 * diff of 100 KiB arrays takes minutes).
 */
function assertSameMessage(actual: Message, expected: Message, label: string): void {
  if (typeof expected === "string") {
    assert.ok(actual === expected, `${label}: got ${String(actual).slice(0, 60)}…`);
    return;
  }
  assert.ok(actual instanceof Uint8Array, `${label}: got ${String(actual).slice(0, 60)}…`);
  assert.equal(actual.length, expected.length, `${label}: length`);
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  assert.equal(at, -1, `${label}: first difference at byte ${at}`);
}

/** A runtime the node:http adapter runs on. */
export type Runtime = "node" | "bun" | "deno";

const SERVER = "tests/adapters/_node_server.ts";

/** The tools a runtime needs. */
export function toolsOf(runtime: Runtime): Tool[] {
  return runtime === "deno" ? [] : [runtime];
}

/**
 * Starts the node:http adapter's server script on a runtime.
 *
 * @param runtime Node (from a bundle), Bun or Deno.
 * @returns The server; dispose to stop it.
 */
export async function startNodeAdapterServer(runtime: Runtime): Promise<RunningServer> {
  let command: string;
  let args: string[];
  switch (runtime) {
    case "node":
      command = requireTool("node").path;
      args = [await bundleForNode(SERVER)];
      break;
    case "bun":
      command = requireTool("bun").path;
      args = [SERVER];
      break;
    case "deno":
      command = Deno.execPath();
      args = ["run", "-A", SERVER];
      break;
  }
  const peer = await spawnPeer(command, { args, cwd: REPO_ROOT, name: `node:http on ${runtime}` });
  return {
    url: `ws://127.0.0.1:${peer.port}`,
    [Symbol.asyncDispose]: () => peer[Symbol.asyncDispose](),
  };
}

for (const runtime of ["node", "bun", "deno"] as const) {
  adapterSuite({
    name: `node:http on ${runtime}`,
    tools: toolsOf(runtime),
    start: () => startNodeAdapterServer(runtime),
    capabilities: { serverPing: true, backpressure: true },
  });
}

// ---------------------------------------------------------------------------
// Lifecycle timers and graceful shutdown, on each runtime.

async function httpGet(base: string, path: string): Promise<string> {
  const response = await fetch(base.replace(/^ws/, "http") + path);
  return await response.text();
}

async function readAll(conn: Deno.Conn): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of conn.readable) text += decoder.decode(chunk, { stream: true });
  return text;
}

for (const runtime of ["node", "bun", "deno"] as const) {
  const tools = toolsOf(runtime);
  const name = `node:http on ${runtime}: lifecycle`;
  Deno.test({
    name,
    ignore: shouldSkip(name, tools),
    async fn(t): Promise<void> {
      for (const tool of tools) requireTool(tool);
      await using server = await startNodeAdapterServer(runtime);
      const base = server.url;

      await t.step("idle timeout closes a silent socket with 1001", async () => {
        const socket = connect(`${base}/life/idle`);
        await socket.opened;
        assert.equal((await socket.closed).closeCode, 1001);
      });

      await t.step("heartbeat terminates a peer that never answers pings", async () => {
        const id = crypto.randomUUID();
        await using raw = await openRawClient(`${base}/life/heartbeat?id=${id}`, {
          respond: false,
        });
        assert.deepEqual(await raw.nextEvent(), { type: "ping" });
        assert.deepEqual(await raw.nextEvent(), { type: "eof" });
        const report = connect(`${base}/report?id=${id}`);
        assert.equal(JSON.parse(String(await next(report))).closeCode, 1006);
        await report.closed;
      });

      await t.step("heartbeat keeps an answering peer open", async () => {
        const socket = connect(`${base}/life/heartbeat`);
        await socket.opened;
        // Several heartbeat periods (200 ms, pong timeout 500 ms) with our client answering.
        await new Promise((resolve) => setTimeout(resolve, 1200));
        assert.equal(socket.readyState, 1);
        await socket.send("still here");
        assert.equal(await next(socket), "still here");
        socket.close(1000);
        await socket.closed;
      });

      await t.step("close-handshake timeout drops a peer that never answers Close", async () => {
        const id = crypto.randomUUID();
        await using raw = await openRawClient(`${base}/life/close-timeout?id=${id}`, {
          respond: false,
        });
        assert.deepEqual(await raw.nextEvent(), {
          type: "close",
          closeCode: 4003,
          reason: "closing",
        });
        assert.deepEqual(await raw.nextEvent(), { type: "eof" });
        const report = connect(`${base}/report?id=${id}`);
        assert.equal(JSON.parse(String(await next(report))).closeCode, 1006);
        await report.closed;
      });

      await t.step("a partial request head is dropped by the HTTP server's timeouts", async () => {
        const url = new URL(base);
        const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
        await conn.write(new TextEncoder().encode("GET /echo HTTP/1.1\r\nHost: x\r\n"));
        // headersTimeout 500 ms; the default would keep it for 60 s.
        const timer = setTimeout(() => conn.close(), 10_000);
        const text = await readAll(conn).catch((error) => `read error: ${error}`);
        clearTimeout(timer);
        if (Deno.env.get("EDGESOCKET_VERBOSE")) {
          console.error(`${runtime}: ${JSON.stringify(text)}`);
        }
        // Node, Bun and Deno all answer 408 and close.
        assert.match(text, /^HTTP\/1\.1 408 /);
      });

      await t.step("reuseMessageBuffers: large messages in flight echo intact", async () => {
        const socket = connect(`${base}/open/reuse`);
        socket.binaryType = "uint8array";
        await socket.opened;
        // Distinct 100 KiB messages, all in flight at once, with large text between them:
        // each is assembled in a pooled buffer the server takes back after its handler.
        const sent: Message[] = [];
        for (let n = 0; n < 6; n++) {
          sent.push(new Uint8Array(100 * 1024).map((_, i) => (i * 31 + n) & 0xff));
          if (n % 2 === 0) sent.push(`${n}`.repeat(20 * 1024) + "é");
        }
        try {
          await Promise.all(sent.map((message) => socket.send(message)));
          for (const [i, message] of sent.entries()) {
            assertSameMessage(await next(socket), message, `echo ${i}`);
          }
        } finally {
          socket.close(1000);
          await socket.closed.catch(() => {});
        }
      });

      await t.step("large binary messages kept by the handler stay intact", async () => {
        // 256 KiB and more: on Bun each is assembled in a pooled buffer and copied
        // into one of its own, so a pooled buffer reused too soon would show here.
        const sizes = [256 * 1024, 300 * 1024 + 3, 1024 * 1024 + 7, 256 * 1024, 2 * 1024 * 1024];
        const socket = connect(`${base}/open/hold?count=${sizes.length}`);
        socket.binaryType = "uint8array";
        await socket.opened;
        const sent = sizes.map((size, n) =>
          new Uint8Array(size).map((_, i) => (i * 31 + n) & 0xff)
        );
        try {
          await Promise.all(sent.map((message) => socket.send(message)));
          for (const [i, message] of sent.entries()) {
            assertSameMessage(await next(socket), message, `kept message ${i}`);
          }
        } finally {
          socket.close(1000);
          await socket.closed.catch(() => {});
        }
      });

      await t.step(
        "send with transfer: messages in flight echo intact, from their own memory",
        async () => {
          for (const path of ["/open/transfer", "/open/reuse-transfer"]) {
            const socket = connect(`${base}${path}`);
            socket.binaryType = "uint8array";
            await socket.opened;
            // Under and over OWNED_MIN (copied, and written as they are), with text between.
            const sent: Message[] = [];
            for (const [n, size] of [100, 100 * 1024, 256 * 1024, 1024 * 1024, 40_000].entries()) {
              sent.push(new Uint8Array(size).map((_, i) => (i * 31 + n) & 0xff));
              sent.push(`${n}`.repeat(size >> 4));
            }
            try {
              // Our client sends with transfer too: its payloads are masked in place.
              const copies = sent.map((m) => typeof m === "string" ? m : m.slice());
              await Promise.all(copies.map((m) => socket.send(m, { transfer: true })));
              for (const m of copies) {
                if (typeof m !== "string") {
                  assert.equal(m.byteLength, 0, "the client's is detached");
                }
              }
              for (const [i, message] of sent.entries()) {
                assertSameMessage(await next(socket), message, `${path}: echo ${i}`);
              }
            } finally {
              socket.close(1000);
              await socket.closed.catch(() => {});
            }
          }
        },
      );

      await t.step("a connection reset mid-echo does not harm the server", async () => {
        for (let i = 0; i < 5; i++) {
          const raw = await openRawClient(`${base}/echo`);
          raw.engine.sendBinary(new Uint8Array(4 * 1024 * 1024));
          await raw.flush();
          // Closing with the echo unread makes the kernel send RST (ECONNRESET).
          await raw[Symbol.asyncDispose]();
        }
        const socket = connect(`${base}/echo`);
        await socket.opened;
        await socket.send("alive");
        assert.equal(await next(socket), "alive");
        socket.close(1000);
        await socket.closed;
      });

      await t.step("graceful shutdown: 1001, drain, terminate, then 503", async () => {
        const polite = connect(`${base}/echo`);
        await polite.opened;
        await using rude = await openRawClient(`${base}/echo`, { respond: false });
        const answer = JSON.parse(await httpGet(base, "/admin/shutdown"));
        assert.deepEqual(answer, { remaining: 0 });
        assert.deepEqual(await polite.closed, { closeCode: 1001, reason: "Server shutting down" });
        assert.deepEqual(await rude.nextEvent(), {
          type: "close",
          closeCode: 1001,
          reason: "Server shutting down",
        });
        assert.deepEqual(await rude.nextEvent(), { type: "eof" });
        const late = connect(`${base}/echo`);
        await assert.rejects(late.opened, { status: 503 });
      });
    },
  });
}

// ---------------------------------------------------------------------------
// Interop: real clients against the node:http adapter, on each runtime.

const MESSAGES: PeerMessage[] = [
  text("hello"),
  text("ünïcødé ✓"),
  binary(new Uint8Array([0, 1, 2, 253, 254, 255])),
  binary(new Uint8Array(200_000).map((_, i) => i * 7)),
  text("x".repeat(70_000)),
];

for (const runtime of ["node", "bun", "deno"] as const) {
  for (const kind of CLIENT_KINDS) {
    peerTest(
      `node:http on ${runtime}: ${kind} client echoes`,
      [...toolsOf(runtime), ...toolsFor(kind)],
      async () => {
        await using server = await startNodeAdapterServer(runtime);
        const result = await runClient(kind, `${server.url}/echo`, MESSAGES, {
          protocols: ["chat", "superchat"],
          closeCode: 4001,
          closeReason: "bye",
        });
        assert.deepEqual(result.received, MESSAGES);
        assert.equal(result.protocol, "superchat");
        // We decline permessage-deflate: no extension was negotiated.
        assert.equal(result.extensions ?? "", "");
        assert.equal(result.closeCode, 4001);
      },
    );
  }
  peerTest(
    `node:http on ${runtime}: Chromium echoes`,
    [...toolsOf(runtime), "chromium"],
    async () => {
      await using server = await startNodeAdapterServer(runtime);
      const { launchBrowser } = await import("../_peers/browser.ts");
      await using browser = await launchBrowser();
      const protocols = ["chat", "superchat"];
      const result = await browser.echo(`${server.url}/open/echo`, MESSAGES, { protocols });
      assert.deepEqual(result.received, MESSAGES);
      assert.equal(result.protocol, "superchat");
      assert.equal(result.closeCode, 1000);
      // A blank page sends `Origin: null`: the allowlisted endpoint refuses it (403).
      const refused = await browser.echo(`${server.url}/echo`, [text("x")], { protocols });
      assert.deepEqual(refused.received, []);
      assert.equal(refused.closeCode, 1006);
    },
    { sanitizeOps: false, sanitizeResources: false },
  );
}

// ---------------------------------------------------------------------------
// Our connect() client against real servers, with the Deno dialer (connect's
// default here) and with the node:net dialer (dialNode, on Deno's node compat).

function toPeerMessage(message: Message): PeerMessage {
  return typeof message === "string" ? text(message) : binary(message);
}

for (const kind of SERVER_KINDS) {
  for (const dialer of ["deno", "node"] as const) {
    peerTest(`connect() (${dialer} dialer) against ${kind} server`, toolsFor(kind), async () => {
      await using server = await startEchoServer(kind, { protocols: ["superchat", "chat"] });
      const socket = connect(wsUrl(server, "/echo"), {
        protocols: ["chat", "superchat"],
        headers: { "x-custom": "1" },
        dial: dialer === "node" ? dialNode : undefined,
      });
      const { protocol, extensions } = await socket.opened;
      assert.equal(protocol, "superchat");
      assert.equal(extensions, "");
      const received: PeerMessage[] = [];
      for (const message of MESSAGES) {
        await socket.send("text" in message ? message.text : fromBase64(message.binary));
        received.push(toPeerMessage(await next(socket)));
      }
      assert.deepEqual(received, MESSAGES);
      socket.close(4001, "bye");
      assert.equal((await socket.closed).closeCode, 4001);
    });
  }
}
