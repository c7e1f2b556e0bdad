/**
 * The client side of the adapter test contract (see `_bun_contract.ts`):
 * registers one group of tests against a contract server, whichever runtime
 * and adapter serve it (Deno.serve, Deno.listen, Bun.serve, Hono on Deno,
 * Bun and Node). Clients: `ws` (npm, in process), Deno's native `WebSocket`,
 * our own `openWebSocket`, and, as child processes or browsers, Python
 * websockets, Bun's native `WebSocket` and Chromium.
 *
 * @module
 */

import assert from "node:assert/strict";
import { WebSocket as WsClient } from "ws";
import { openWebSocket } from "../../src/client.ts";
import type { SocketCapabilities } from "../../src/socket.ts";
import {
  binary,
  type PeerMessage,
  peerTest,
  requireTool,
  runClient,
  text,
  type Tool,
} from "../_peers/mod.ts";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "../_peers/browser.ts";

/** A running contract server. */
export interface ContractServer extends AsyncDisposable {
  /** `ws://127.0.0.1:<port>` without a trailing slash. */
  base: string;
}

/** What the contract tests expect of one adapter. */
export interface ContractExpectations {
  /** The adapter's capability row, asserted through `/caps`. */
  capabilities: SocketCapabilities;
  /** Tools the server itself needs (e.g. `bun`). */
  tools?: Tool[];
  /** Largest message to echo, in bytes. Default 8 MiB. */
  largeMessage?: number;
}

const MESSAGES: PeerMessage[] = [
  text("hello"),
  text("héllo wörld ✓ 🦕"),
  binary(Uint8Array.from({ length: 256 }, (_, i) => i)),
  text("x".repeat(70_000)),
];

/**
 * Rejects when `promise` takes longer than `ms`: a stuck exchange fails,
 * naming what it waited for, instead of hanging the run.
 *
 * @param promise What to wait for.
 * @param what Description for the error.
 * @param ms Deadline in ms (default 20000).
 * @returns The promise's value.
 */
export async function within<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Messages received before anyone asked: a server may send right after the
 * 101, and `ws` can emit that message in the same tick as `open`.
 */
const inboxes = new WeakMap<WsClient, {
  messages: (string | Uint8Array)[];
  waiters: ((message: string | Uint8Array) => void)[];
}>();

interface WsOpen {
  ws: WsClient;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Connects with `ws`, resolving on open or rejecting with the HTTP status.
 *
 * @param url The URL.
 * @param options Protocols, origin, extra headers.
 * @returns The open client and the 101's headers.
 */
export function wsOpen(
  url: string,
  options: { protocols?: string[]; origin?: string; headers?: Record<string, string> } = {},
): Promise<WsOpen> {
  return within(
    new Promise((resolve, reject) => {
      const ws = new WsClient(url, options.protocols ?? [], {
        origin: options.origin,
        headers: options.headers,
      });
      let headers: WsOpen["headers"] = {};
      const inbox = {
        messages: [] as (string | Uint8Array)[],
        waiters: [] as ((m: string | Uint8Array) => void)[],
      };
      inboxes.set(ws, inbox);
      ws.on("message", (data: Uint8Array, isBinary: boolean) => {
        const message = isBinary ? new Uint8Array(data) : new TextDecoder().decode(data);
        const waiter = inbox.waiters.shift();
        if (waiter) waiter(message);
        else inbox.messages.push(message);
      });
      ws.on("upgrade", (response) => headers = response.headers);
      ws.on("open", () => resolve({ ws, headers }));
      ws.on("unexpected-response", (_request, response) => {
        let body = "";
        response.on("data", (chunk: Uint8Array) => body += new TextDecoder().decode(chunk));
        response.on("end", () => {
          reject(Object.assign(new Error(`HTTP ${response.statusCode}`), {
            status: response.statusCode,
            body,
          }));
          ws.terminate();
        });
      });
      ws.on("error", (error) => reject(error));
    }),
    `open ${url}`,
  );
}

/**
 * The next message on a `ws` client.
 *
 * @param ws The client.
 * @returns Text as string, binary as bytes.
 */
export function wsNext(ws: WsClient): Promise<string | Uint8Array> {
  const inbox = inboxes.get(ws);
  if (inbox === undefined) throw new Error("wsNext needs a client from wsOpen");
  const queued = inbox.messages.shift();
  if (queued !== undefined) return Promise.resolve(queued);
  const { promise, resolve } = Promise.withResolvers<string | Uint8Array>();
  inbox.waiters.push(resolve);
  return within(promise, `a message on ${ws.url}`);
}

/**
 * Resolves with the close code and reason a `ws` client saw.
 *
 * @param ws The client.
 * @returns Code and reason.
 */
export function wsClosed(ws: WsClient): Promise<{ code: number; reason: string }> {
  return within(
    new Promise((resolve) => {
      ws.once("close", (code: number, reason: Uint8Array) => {
        resolve({ code, reason: new TextDecoder().decode(reason) });
      });
    }),
    `the close of ${ws.url}`,
  );
}

/**
 * Asks a contract server how connection `id` was closed.
 *
 * @param base The server base URL.
 * @param id The connection id.
 * @returns The close code and reason the server saw.
 */
export async function report(
  base: string,
  id: string,
): Promise<{ closeCode: number; reason: string }> {
  const { ws } = await wsOpen(`${base}/report?id=${id}`);
  const message = await wsNext(ws);
  await wsClosed(ws);
  return JSON.parse(message as string);
}

function dial(url: string): Promise<{
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}> {
  const { hostname, port } = new URL(url);
  return Deno.connect({ hostname, port: Number(port) });
}

/**
 * Registers the contract tests for one adapter.
 *
 * @param name The adapter's name, prefixed to every test.
 * @param start Starts the server (called once per test).
 * @param expect The adapter's capabilities and needs.
 */
export function contractTests(
  name: string,
  start: () => Promise<ContractServer>,
  expect: ContractExpectations,
): void {
  const tools = expect.tools ?? [];
  const large = expect.largeMessage ?? 8 * 1024 * 1024;

  peerTest(`${name}: ws client: policy, echo, close both ways, capabilities`, tools, async () => {
    await using server = await start();
    const { base } = server;

    // Subprotocol: server preference among the client's offer.
    const { ws, headers } = await wsOpen(`${base}/echo?id=a`, {
      protocols: ["chat", "superchat"],
      origin: "http://allowed.test",
    });
    assert.equal(ws.protocol, "superchat");
    // Custom headers on the 101, both cookies.
    assert.deepEqual(headers["set-cookie"], ["edge=1; Path=/", "socket=2; Path=/"]);

    // Text, binary, large echo.
    ws.send("héllo 🦕");
    assert.equal(await wsNext(ws), "héllo 🦕");
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    ws.send(bytes);
    assert.deepEqual(await wsNext(ws), bytes);
    const big = new Uint8Array(large).map((_, i) => i % 253);
    ws.send(big);
    const echoed = await wsNext(ws);
    assert.ok(echoed instanceof Uint8Array);
    assert.equal(echoed.length, big.length);
    assert.deepEqual(echoed.subarray(large - 1000), big.subarray(large - 1000));

    // Client-initiated close: the server saw our code and reason.
    const closed = wsClosed(ws);
    ws.close(4001, "client-bye");
    assert.deepEqual(await closed, { code: 4001, reason: "client-bye" });
    assert.deepEqual(await report(base, "a"), { closeCode: 4001, reason: "client-bye" });

    // Server-initiated close.
    const server2 = await wsOpen(`${base}/close`);
    assert.deepEqual(await wsClosed(server2.ws), { code: 4002, reason: "server-bye" });

    // Capabilities as the adapter's table row says.
    const caps = await wsOpen(`${base}/caps`);
    assert.deepEqual(JSON.parse(await wsNext(caps.ws) as string), expect.capabilities);
    caps.ws.close(1000);
    await wsClosed(caps.ws);

    // ping(): an RTT where supported, WS_ERR_UNSUPPORTED where not.
    const ping = await wsOpen(`${base}/ping`);
    const answer = await wsNext(ping.ws) as string;
    if (expect.capabilities.ping) assert.match(answer, /^rtt:\d+(\.\d+)?$/);
    else assert.equal(answer, "error:WS_ERR_UNSUPPORTED");
    ping.ws.close(1000);
    await wsClosed(ping.ws);
  });

  peerTest(
    `${name}: binary messages kept by the handler stay intact (as views and as ArrayBuffers)`,
    tools,
    async () => {
      await using server = await start();
      for (const type of ["uint8array", "arraybuffer"]) {
        const count = 64;
        const { ws } = await wsOpen(`${server.base}/hold?count=${count}&type=${type}`);
        // Distinct sizes and contents: a reused buffer would show another message's bytes.
        const sent = Array.from(
          { length: count },
          (_, k) => Uint8Array.from({ length: 100 + k * 37 }, (_, i) => (i * 7 + k) % 256),
        );
        for (const message of sent) ws.send(message);
        for (const [k, message] of sent.entries()) {
          const echoed = await within(wsNext(ws), `${type} message ${k}`);
          assert.ok(echoed instanceof Uint8Array, `${type} message ${k} came back as text`);
          assert.equal(echoed.length, message.length, `${type} message ${k}: length`);
          assert.ok(echoed.every((byte, i) => byte === message[i]), `${type} message ${k}: bytes`);
        }
        ws.close(1000);
        await wsClosed(ws);
      }
    },
  );

  peerTest(`${name}: ws client: echoes sent on with transfer arrive intact`, tools, async () => {
    await using server = await start();
    const { ws } = await wsOpen(`${server.base}/transfer`);
    // Under and over OWNED_MIN, with text between: in flight all at once.
    const sent: (string | Uint8Array)[] = [];
    for (const [n, size] of [100, 100 * 1024, 256 * 1024, 1024 * 1024].entries()) {
      sent.push(Uint8Array.from({ length: size }, (_, i) => (i * 31 + n) % 256));
      sent.push(`${n}`.repeat(size >> 4));
    }
    for (const message of sent) ws.send(message);
    for (const [k, message] of sent.entries()) {
      const echoed = await within(wsNext(ws), `message ${k}`);
      if (typeof message === "string") {
        assert.ok(echoed === message, `message ${k}: ${String(echoed).slice(0, 60)}`);
        continue;
      }
      assert.ok(echoed instanceof Uint8Array, `message ${k}: ${String(echoed).slice(0, 60)}`);
      assert.equal(echoed.length, message.length, `message ${k}: length`);
      assert.ok(echoed.every((byte, i) => byte === message[i]), `message ${k}: bytes`);
    }
    ws.close(1000);
    await wsClosed(ws);
  });

  peerTest(`${name}: handshake rejections (403 origin, 401 authorize)`, tools, async () => {
    await using server = await start();
    await assert.rejects(wsOpen(`${server.base}/echo`, { origin: "http://evil.test" }), {
      status: 403,
    });
    await assert.rejects(wsOpen(`${server.base}/echo`, { headers: { "x-deny": "1" } }), {
      status: 401,
      body: "Denied",
    });
    // Our own client sees the status too.
    const client = openWebSocket(`${server.base}/echo`, dial(server.base), {
      origin: "http://evil.test",
    });
    await assert.rejects(client.opened, { status: 403 });
  });

  peerTest(`${name}: Deno's native WebSocket and our openWebSocket`, tools, async () => {
    await using server = await start();
    const native = new WebSocket(`${server.base}/echo`, ["chat"]);
    native.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => {
      native.onopen = resolve;
      native.onerror = reject;
    });
    assert.equal(native.protocol, "chat");
    const nativeEcho = new Promise<unknown>((resolve) => native.onmessage = (e) => resolve(e.data));
    native.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual(new Uint8Array(await nativeEcho as ArrayBuffer), new Uint8Array([1, 2, 3]));
    const nativeClosed = new Promise<CloseEvent>((resolve) => native.onclose = resolve);
    native.close(3003, "native-bye");
    const event = await nativeClosed;
    assert.equal(event.code, 3003);

    const ours = openWebSocket(`${server.base}/echo`, dial(server.base), {
      protocols: ["superchat"],
    });
    const { protocol } = await ours.opened;
    assert.equal(protocol, "superchat");
    await ours.send("ours");
    for await (const message of ours) {
      assert.equal(message, "ours");
      break;
    }
    ours.close(1000, "done");
    assert.deepEqual(await ours.closed, { closeCode: 1000, reason: "done" });
  });

  peerTest(`${name}: Python websockets client`, ["python", ...tools], async () => {
    await using server = await start();
    const result = await runClient("python", `${server.base}/echo`, MESSAGES, {
      protocols: ["chat"],
      closeCode: 4005,
      closeReason: "py-bye",
    });
    assert.deepEqual(result.received, MESSAGES);
    assert.equal(result.protocol, "chat");
    assert.equal(result.closeCode, 4005);
  });

  peerTest(`${name}: Bun's native WebSocket client`, ["bun", ...tools], async () => {
    await using server = await start();
    const result = await runClient("bun-native", `${server.base}/echo`, MESSAGES, {
      protocols: ["superchat", "chat"],
    });
    assert.deepEqual(result.received, MESSAGES);
    assert.equal(result.protocol, "superchat");
    assert.equal(result.closeCode, 1000);
  });

  peerTest(`${name}: Chromium`, ["chromium", ...tools], async () => {
    await using server = await start();
    // Chromium's Local Network Access checks block a page on a public-looking
    // origin from opening a socket to 127.0.0.1; these tests mean loopback.
    const browser = await chromium.launch({
      executablePath: requireTool("chromium").path,
      args: [...CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"],
    });
    await using _closeBrowser = { [Symbol.asyncDispose]: () => browser.close() };
    // A page on the allowed origin (served by Playwright, not the network):
    // about:blank would send `Origin: null`, which the policy refuses.
    const page = await browser.newPage();
    await page.route("http://allowed.test/", (route) => route.fulfill({ body: "<html></html>" }));
    await page.goto("http://allowed.test/");
    const result = await page.evaluate(async ({ url }) => {
      const socket = new WebSocket(url, ["chat"]);
      socket.binaryType = "arraybuffer";
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error("WebSocket failed"));
      });
      const received: (string | number[])[] = [];
      const done = new Promise<void>((resolve) => {
        socket.onmessage = (event) => {
          received.push(
            typeof event.data === "string" ? event.data : [...new Uint8Array(event.data)],
          );
          if (received.length === 3) resolve();
        };
      });
      socket.send("héllo 🦕");
      socket.send(new Uint8Array([0, 1, 255]));
      socket.send("x".repeat(70_000));
      await done;
      const closed = new Promise<CloseEvent>((resolve) => socket.onclose = resolve);
      socket.close(4006, "browser-bye");
      const event = await closed;
      return { received, protocol: socket.protocol, code: event.code, reason: event.reason };
    }, { url: `${server.base}/echo?id=browser` });
    await page.close();
    assert.deepEqual(result, {
      received: ["héllo 🦕", [0, 1, 255], "x".repeat(70_000)],
      protocol: "chat",
      code: 4006,
      reason: "browser-bye",
    });
    assert.deepEqual(await report(server.base, "browser"), {
      closeCode: 4006,
      reason: "browser-bye",
    });
  }, { sanitizeOps: false, sanitizeResources: false });
}
