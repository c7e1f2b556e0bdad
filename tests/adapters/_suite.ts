/**
 * The shared adapter suite: one run per (adapter, runtime) pair, against a
 * real server process, over real TCP. Each adapter's test file starts its
 * server and calls {@linkcode adapterSuite}.
 *
 * ## The server contract
 *
 * A server under test listens on `127.0.0.1` and serves, on every path below:
 *
 * - subprotocols `superchat`, `chat`, in that preference order (so a client
 *   offering `chat, superchat` gets `superchat`);
 * - origins: only `http://allowed.test` (a request without `Origin` passes),
 *   others get 403;
 * - an auth hook: a request with header `x-deny: 1` gets 401;
 * - `/echo?id=X` (and any other path not listed): echoes text as text and
 *   binary as binary; remembers how connection `X` closed;
 * - `/report?id=X`: once connection `X` has closed, sends one text message
 *   `{"closeCode": n, "reason": s}` (as the server saw it), then closes 1000;
 * - `/close`: the server closes at once with 4002 `"server-bye"`;
 * - `/ping` (only with `capabilities.serverPing`): the server pings the
 *   client and sends `rtt:<ms>`;
 * - `/slow?id=X` (only with `capabilities.backpressure`): the server does
 *   not read this socket (its `readable` queue holds at most one message)
 *   until `/drain?id=X&count=N` is opened; then it reads `N` messages of `X`
 *   and sends `drained:<bytes>` on the `/drain` socket.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect } from "../../src/connect.ts";
import { createClientHandshake, verifyServerHandshake } from "../../src/handshake.ts";
import { readResponseHead, writeRequestHead } from "../../src/http_head.ts";
import { WebSocketEngine } from "../../src/engine.ts";
import { WebSocketError } from "../../src/errors.ts";
import type { EdgeSocket, Message } from "../../src/socket.ts";
import { requireTool, shouldSkip, type Tool } from "../_peers/tools.ts";

/** What the server under test can do (native-backed adapters lack some). */
export interface SuiteCapabilities {
  /** The server can ping (`/ping` is served). */
  serverPing: boolean;
  /** A server that does not read stops the client (`/slow` and `/drain` are served). */
  backpressure: boolean;
}

/** A started server under test; disposing it stops it. */
export interface RunningServer extends AsyncDisposable {
  /** Base URL, e.g. `ws://127.0.0.1:1234` (no trailing slash). */
  url: string;
}

/** Describes one server under test. */
export interface SuiteTarget {
  /** Name shown in test names, e.g. `"node:http on Bun"`. */
  name: string;
  /** External tools the server needs (skip loudly without them). */
  tools?: readonly Tool[];
  /** Starts the server. */
  start(): Promise<RunningServer>;
  /** What the server supports. */
  capabilities: SuiteCapabilities;
}

/** Options a client factory receives. */
export interface SuiteClientOptions {
  /** Subprotocols to offer. */
  protocols?: string[];
  /** Extra request headers (e.g. `Origin`, `x-deny`). */
  headers?: Record<string, string>;
}

/** Opens a client socket (ours by default); the suite only uses the EdgeSocket API. */
export type SuiteClient = (url: string, options: SuiteClientOptions) => EdgeSocket;

/** Our client: {@linkcode connect} with the runtime's dialer. */
export const defaultClient: SuiteClient = (url: string, options: SuiteClientOptions): EdgeSocket =>
  connect(url, { protocols: options.protocols, headers: options.headers });

const MiB = 1024 * 1024;

async function next(socket: EdgeSocket): Promise<Message> {
  for await (const message of socket) return message;
  throw new Error("Socket closed before a message arrived");
}

function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/**
 * A minimal client on our engine over a raw `Deno.connect`, for what the
 * socket API does not offer: sending hand-made fragments, or never answering
 * a Close or a Ping.
 */
export interface RawClient extends AsyncDisposable {
  /** The engine (client role, open). Call `flush()` after queuing frames. */
  engine: WebSocketEngine;
  /** Writes what the engine queued. */
  flush(): Promise<void>;
  /** Reads until the engine reported a message or close, or the peer closed TCP. */
  nextEvent(): Promise<RawEvent>;
}

/** What {@linkcode RawClient.nextEvent} reports. */
export type RawEvent =
  | { type: "message"; data: Message }
  | { type: "close"; closeCode: number; reason: string }
  | { type: "ping" }
  | { type: "eof" };

/**
 * Opens a {@linkcode RawClient}. With `respond: false` the engine's
 * automatic Pong and Close replies are never written (a dead peer).
 *
 * @param url The `ws:` URL.
 * @param options `respond` (default `true`) and subprotocols.
 * @returns The raw client.
 */
export async function openRawClient(
  url: string,
  options: { respond?: boolean; protocols?: string[] } = {},
): Promise<RawClient> {
  const respond = options.respond ?? true;
  const handshake = createClientHandshake(url, { protocols: options.protocols });
  const conn = await Deno.connect({
    hostname: handshake.url.hostname,
    port: Number(handshake.url.port),
  });
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  await writer.write(writeRequestHead(handshake.request));
  const { head, rest } = await readResponseHead(reader);
  await verifyServerHandshake(head, handshake.key, {
    protocols: options.protocols ?? [],
    extensions: [],
  });
  const events: RawEvent[] = [];
  const engine = new WebSocketEngine({ role: "client" }, {
    text: (data) => events.push({ type: "message", data }),
    binary: (data) => events.push({ type: "message", data: data.slice() }),
    ping: () => events.push({ type: "ping" }),
    close: (info) => events.push({ type: "close", closeCode: info.closeCode, reason: info.reason }),
  });
  let eof = false;
  const flush = async (): Promise<void> => {
    for (const chunk of engine.takeOutput()) await writer.write(chunk);
  };
  if (rest.length > 0) engine.receive(rest);
  return {
    engine,
    flush,
    async nextEvent(): Promise<RawEvent> {
      while (events.length === 0 && !eof) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) {
          eof = true;
          break;
        }
        engine.receive(value!);
        if (respond) await flush().catch(() => {});
        else engine.takeOutput();
      }
      return events.shift() ?? { type: "eof" };
    },
    async [Symbol.asyncDispose](): Promise<void> {
      await reader.cancel().catch(() => {});
      await writer.abort().catch(() => {});
    },
  };
}

async function expectRejected(socket: EdgeSocket, status: number): Promise<void> {
  await assert.rejects(socket.opened, (error: unknown) => {
    assert.ok(error instanceof WebSocketError, `expected a WebSocketError, got ${error}`);
    assert.equal(error.status, status);
    return true;
  });
  await socket.closed.catch(() => {});
  assert.equal(socket.readyState, 3);
}

/**
 * Registers the suite for one server under test: one `Deno.test` with a step
 * per case, the server started once.
 *
 * @param target The server under test.
 * @param client The client factory (our `connect()` by default).
 */
export function adapterSuite(target: SuiteTarget, client: SuiteClient = defaultClient): void {
  const name = `adapter suite: ${target.name}`;
  const tools = target.tools ?? [];
  Deno.test({
    name,
    ignore: shouldSkip(name, tools),
    async fn(t): Promise<void> {
      for (const tool of tools) requireTool(tool);
      await using server = await target.start();
      const base = server.url;

      await t.step("text and binary echo", async () => {
        const socket = client(`${base}/echo`, {});
        await socket.opened;
        await socket.send("héllo wörld");
        assert.equal(await next(socket), "héllo wörld");
        const bytes = pattern(1000, 7);
        await socket.send(bytes);
        assert.deepEqual(await next(socket), bytes);
        await socket.send(new Uint8Array(0));
        assert.deepEqual(await next(socket), new Uint8Array(0));
        socket.close(1000);
        assert.deepEqual(await socket.closed, { closeCode: 1000, reason: "" });
      });

      await t.step("3 MiB message, fragmented by the client, echoed whole", async () => {
        await using raw = await openRawClient(`${base}/echo`);
        const payload = pattern(3 * MiB, 11);
        const fragment = 64 * 1024;
        for (let offset = 0; offset < payload.length; offset += fragment) {
          raw.engine.sendFrame(
            offset === 0 ? 2 : 0,
            payload.subarray(offset, offset + fragment),
            { fin: offset + fragment >= payload.length },
          );
          await raw.flush();
        }
        // A text message split inside a multi-byte character (RFC 6455 §5.6).
        const text = new TextEncoder().encode("zwölf €uro");
        raw.engine.sendFrame(1, text.subarray(0, 4), { fin: false });
        raw.engine.sendFrame(0, text.subarray(4, 9), { fin: false });
        raw.engine.sendFrame(0, text.subarray(9), { fin: true });
        await raw.flush();
        const echoed = await raw.nextEvent();
        assert.equal(echoed.type, "message");
        const data = (echoed as { data: Message }).data;
        assert.ok(data instanceof Uint8Array);
        assert.equal(data.length, payload.length);
        assert.ok(data.every((byte, i) => byte === payload[i]), "echo differs from what was sent");
        assert.deepEqual(await raw.nextEvent(), { type: "message", data: "zwölf €uro" });
        raw.engine.close(1000);
        await raw.flush();
        assert.deepEqual(await raw.nextEvent(), { type: "close", closeCode: 1000, reason: "" });
      });

      await t.step("200 distinct messages in flight to a paused reader arrive intact", async () => {
        // The client stops reading at 16 unread messages, so the server's
        // writes back up behind TCP (13 MiB is more than loopback buffers
        // hold): output buffers it reuses once written must not be reused
        // while a queued write still refers to them.
        const socket = client(`${base}/echo`, {});
        await socket.opened;
        const reader = socket.readable.getReader();
        const sent = Array.from(
          { length: 200 },
          (_, i) => pattern(i % 2 === 0 ? 128 * 1024 : 3 * 1024, 100 + i),
        );
        for (const message of sent) socket.send(message).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 200));
        for (const [i, expected] of sent.entries()) {
          const { value } = await reader.read();
          assert.ok(value instanceof Uint8Array, `message ${i} is binary`);
          assert.equal(value.length, expected.length, `message ${i} length`);
          assert.ok(value.every((byte, j) => byte === expected[j]), `message ${i} differs`);
        }
        reader.releaseLock();
        socket.close(1000);
        await socket.closed;
      });

      await t.step("subprotocol: server preference wins", async () => {
        const socket = client(`${base}/echo`, { protocols: ["chat", "superchat"] });
        const { protocol } = await socket.opened;
        assert.equal(protocol, "superchat");
        assert.equal(socket.protocol, "superchat");
        socket.close(1000);
        await socket.closed;
        const only = client(`${base}/echo`, { protocols: ["chat", "other"] });
        assert.equal((await only.opened).protocol, "chat");
        only.close(1000);
        await only.closed;
      });

      await t.step("origin allowlist: 403 for others", async () => {
        await expectRejected(
          client(`${base}/echo`, { headers: { Origin: "http://evil.test" } }),
          403,
        );
        const allowed = client(`${base}/echo`, { headers: { Origin: "http://allowed.test" } });
        await allowed.opened;
        allowed.close(1000);
        await allowed.closed;
      });

      await t.step("auth hook rejects with 401", async () => {
        await expectRejected(client(`${base}/echo`, { headers: { "x-deny": "1" } }), 401);
      });

      await t.step("client closes 4001 'bye': the server sees it", async () => {
        const id = crypto.randomUUID();
        const socket = client(`${base}/echo?id=${id}`, {});
        await socket.opened;
        socket.close(4001, "bye");
        // The server echoes the code (RFC 6455 §5.5.1); echoing the reason is optional.
        assert.equal((await socket.closed).closeCode, 4001);
        const report = client(`${base}/report?id=${id}`, {});
        assert.deepEqual(JSON.parse(String(await next(report))), {
          closeCode: 4001,
          reason: "bye",
        });
        await report.closed;
      });

      await t.step("server closes 4002: the client sees it", async () => {
        const socket = client(`${base}/close`, {});
        await socket.opened;
        assert.deepEqual(await socket.closed, { closeCode: 4002, reason: "server-bye" });
      });

      await t.step("ping from the client measures a round trip", async () => {
        const socket = client(`${base}/echo`, {});
        await socket.opened;
        if (!socket.capabilities.ping) {
          await assert.rejects(socket.ping(), { code: "WS_ERR_UNSUPPORTED" });
        } else {
          const rtt = await socket.ping(new Uint8Array([1, 2, 3]));
          assert.equal(typeof rtt, "number");
          assert.ok(Number.isFinite(rtt) && rtt >= 0, `rtt ${rtt}`);
        }
        socket.close(1000);
        await socket.closed;
      });

      await t.step({
        name: "ping from the server measures a round trip",
        ignore: !target.capabilities.serverPing,
        fn: async () => {
          const socket = client(`${base}/ping`, {});
          await socket.opened;
          const message = String(await next(socket));
          assert.match(message, /^rtt:/);
          const rtt = Number(message.slice(4));
          assert.ok(Number.isFinite(rtt) && rtt >= 0, message);
          socket.close(1000);
          await socket.closed;
        },
      });

      await t.step({
        name: "backpressure: a server that does not read stalls the client",
        ignore: !target.capabilities.backpressure,
        fn: async () => {
          const id = crypto.randomUUID();
          const count = 64;
          const size = MiB;
          const socket = client(`${base}/slow?id=${id}`, {});
          await socket.opened;
          if (!socket.capabilities.backpressure) return;
          let resolved = 0;
          const sends: Promise<void>[] = [];
          for (let i = 0; i < count; i++) {
            sends.push(socket.send(pattern(size, i + 1)).then(() => void resolved++));
          }
          // Wait until the client's buffer stops shrinking: the server and the
          // kernel hold all they will hold.
          let last = -1;
          let stable = 0;
          for (let i = 0; i < 300 && stable < 5; i++) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            const now = socket.bufferedAmount;
            stable = now === last ? stable + 1 : 0;
            last = now;
          }
          const held = count * size - socket.bufferedAmount;
          // Whatever left the client sits in the server (one message queued,
          // 64 KiB of stream queue, one partial frame) and the two kernels'
          // socket buffers; far less than the 64 MiB sent.
          assert.ok(
            held <= 24 * MiB,
            `server side took ${(held / MiB).toFixed(1)} MiB without reading`,
          );
          assert.ok(resolved < count, "every send resolved although nothing was read");
          if (Deno.env.get("EDGESOCKET_VERBOSE")) {
            console.error(`${target.name}: ${(held / MiB).toFixed(1)} MiB left the client`);
          }
          // Now let the server read everything: the client drains.
          const drain = client(`${base}/drain?id=${id}&count=${count}`, {});
          assert.equal(await next(drain), `drained:${count * size}`);
          await Promise.all(sends);
          assert.equal(resolved, count);
          assert.equal(socket.bufferedAmount, 0);
          drain.close(1000);
          socket.close(1000);
          await Promise.all([drain.closed, socket.closed]);
        },
      });
    },
  });
}
