/**
 * permessage-deflate (RFC 7692): negotiation tables, the RFC's payload
 * examples, limits, and fragmented compressed messages over a raw duplex
 * split at every offset.
 */

import { concatBytes } from "./_fixtures.ts";
import assert from "node:assert/strict";
import {
  acceptDeflateResponse,
  type ByteDuplex,
  computeAccept,
  createDuplexPair,
  deflateOffer,
  type DeflateParams,
  detectDeflateFlush,
  type EdgeSocket,
  encodeFrame,
  negotiateDeflate,
  openWebSocket,
  parseExtensions,
  PerMessageDeflate,
  upgradeConnection,
  WebSocketError,
} from "@edgesocket/core";

const hex = (text: string): Uint8Array =>
  new Uint8Array(text.trim().split(/\s+/).map((b) => parseInt(b, 16)));
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const FLUSH = await detectDeflateFlush();

function params(overrides: Partial<DeflateParams> = {}): DeflateParams {
  return {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------
// RFC 7692 §7.1: negotiation

Deno.test("RFC 7692 §7.1: server answers to offers (flushing compressor)", () => {
  const table: [offer: string, response: string | undefined][] = [
    // §5.2 / §7.1 examples
    ["permessage-deflate", "permessage-deflate"],
    ["permessage-deflate; client_max_window_bits", "permessage-deflate"],
    [
      "permessage-deflate; client_max_window_bits=10",
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      "permessage-deflate; server_no_context_takeover",
      "permessage-deflate; server_no_context_takeover",
    ],
    [
      "permessage-deflate; client_no_context_takeover",
      "permessage-deflate; client_no_context_takeover",
    ],
    [
      "permessage-deflate; server_max_window_bits=10",
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      'permessage-deflate; server_max_window_bits="15"',
      "permessage-deflate; server_max_window_bits=15",
    ],
    // Several offers: the first acceptable one wins (§5.2 example).
    [
      "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits",
      "permessage-deflate; server_max_window_bits=10",
    ],
    // Invalid offers are declined, and the next one is tried.
    ["permessage-deflate; server_max_window_bits", undefined],
    ["permessage-deflate; server_max_window_bits=7", undefined],
    ["permessage-deflate; server_max_window_bits=16", undefined],
    ["permessage-deflate; server_max_window_bits=010", undefined],
    ["permessage-deflate; client_max_window_bits=abc", undefined],
    ["permessage-deflate; server_no_context_takeover=1", undefined],
    ["permessage-deflate; client_no_context_takeover; client_no_context_takeover", undefined],
    ["permessage-deflate; client_max_window_bits=10; client_max_window_bits=11", undefined],
    ["permessage-deflate; foo", undefined],
    [
      "permessage-deflate; foo, permessage-deflate; server_no_context_takeover",
      "permessage-deflate; server_no_context_takeover",
    ],
    ["x-webkit-deflate-frame", undefined],
  ];
  for (const [offer, response] of table) {
    assert.equal(negotiateDeflate(parseExtensions(offer), {}, true)?.response, response, offer);
  }
});

Deno.test("RFC 7692 §7.1: without a per-write flush the server never keeps a context", () => {
  const result = negotiateDeflate(parseExtensions("permessage-deflate"), {}, false);
  assert.equal(result?.response, "permessage-deflate; server_no_context_takeover");
  assert.equal(result?.params.serverNoContextTakeover, true);
});

Deno.test("RFC 7692 §7.1: server options shape the response", () => {
  const offers = parseExtensions(
    "permessage-deflate; client_max_window_bits; client_no_context_takeover",
  );
  assert.equal(
    negotiateDeflate(offers, { clientNoContextTakeover: false }, true)?.response,
    "permessage-deflate",
  );
  assert.equal(
    negotiateDeflate(offers, { clientMaxWindowBits: 10, serverNoContextTakeover: true }, true)
      ?.response,
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10",
  );
  // A client window option is only sent when the client offered the parameter.
  assert.equal(
    negotiateDeflate(parseExtensions("permessage-deflate"), { clientMaxWindowBits: 10 }, true)
      ?.response,
    "permessage-deflate",
  );
  // The server's own window limit goes out even unasked; its messages then stay uncompressed.
  const limited = negotiateDeflate(
    parseExtensions("permessage-deflate"),
    { serverMaxWindowBits: 12 },
    true,
  );
  assert.equal(limited?.response, "permessage-deflate; server_max_window_bits=12");
  const state = new PerMessageDeflate({
    role: "server",
    params: limited!.params,
    flushPerWrite: true,
  });
  assert.equal(state.canCompress, false);
  assert.throws(() => negotiateDeflate(offers, { serverMaxWindowBits: 16 }, true), RangeError);
});

Deno.test("RFC 7692 §7.1: client offers", () => {
  assert.equal(deflateOffer({}, true), "permessage-deflate");
  assert.equal(deflateOffer({}, false), "permessage-deflate; client_no_context_takeover");
  assert.equal(
    deflateOffer({
      serverNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: true,
    }, true),
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits",
  );
  assert.throws(() => deflateOffer({ clientMaxWindowBits: 7 }, true), RangeError);
});

Deno.test("RFC 7692 §7.1: client validation of responses", () => {
  const ok: [
    response: string,
    options: Parameters<typeof deflateOffer>[0],
    Partial<DeflateParams>,
  ][] = [
    ["permessage-deflate", {}, {}],
    ["permessage-deflate; server_no_context_takeover", {}, { serverNoContextTakeover: true }],
    ["permessage-deflate; client_no_context_takeover", {}, { clientNoContextTakeover: true }],
    ["permessage-deflate; server_max_window_bits=9", {}, { serverMaxWindowBits: 9 }],
    [
      "permessage-deflate; client_max_window_bits=12",
      { clientMaxWindowBits: true },
      { clientMaxWindowBits: 12 },
    ],
    [
      "permessage-deflate; server_max_window_bits=10",
      { serverMaxWindowBits: 12 },
      { serverMaxWindowBits: 10 },
    ],
  ];
  for (const [response, options, expected] of ok) {
    assert.deepEqual(
      acceptDeflateResponse(parseExtensions(response), options, true),
      params(expected),
      response,
    );
  }
  assert.equal(acceptDeflateResponse([], {}, true), undefined);
  const bad: [response: string, options: Parameters<typeof deflateOffer>[0]][] = [
    ["permessage-deflate; client_max_window_bits=10", {}], // not offered
    ["permessage-deflate; client_max_window_bits", { clientMaxWindowBits: true }], // no value
    ["permessage-deflate; server_max_window_bits", {}],
    ["permessage-deflate; server_max_window_bits=13", { serverMaxWindowBits: 12 }],
    ["permessage-deflate", { serverMaxWindowBits: 12 }],
    ["permessage-deflate", { serverNoContextTakeover: true }],
    ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}],
    ["permessage-deflate; bogus", {}],
    ["permessage-deflate, permessage-deflate", {}],
  ];
  for (const [response, options] of bad) {
    assert.throws(
      () => acceptDeflateResponse(parseExtensions(response), options, true),
      { code: "WS_ERR_INVALID_HANDSHAKE" },
      response,
    );
  }
  // Without a per-write flush we keep to our hint even if the server ignores it.
  assert.equal(
    acceptDeflateResponse(parseExtensions("permessage-deflate"), {}, false)
      ?.clientNoContextTakeover,
    true,
  );
});

// ---------------------------------------------------------------------------
// RFC 7692 §7.2: payloads

Deno.test("RFC 7692 §7.2.3: the RFC's example payloads inflate", async () => {
  const examples: [name: string, payload: string][] = [
    ["§7.2.3.1 one block", "f2 48 cd c9 c9 07 00"],
    ["§7.2.3.3 stored block", "00 05 00 fa ff 48 65 6c 6c 6f 00"],
    ["§7.2.3.4 BFINAL set, then 0x00", "f3 48 cd c9 c9 07 00 00"],
    ["BFINAL set, nothing after", "f3 48 cd c9 c9 07 00"],
    ["§7.2.3.5 two blocks", "f2 48 05 00 00 00 ff ff ca c9 c9 07 00"],
  ];
  for (const [name, payload] of examples) {
    const state = new PerMessageDeflate({ role: "client", params: params(), flushPerWrite: FLUSH });
    assert.deepEqual(await state.inflate(hex(payload), 1024), utf8("Hello"), name);
    // The context survives for the next message.
    assert.deepEqual(await state.inflate(hex("f2 48 cd c9 c9 07 00"), 1024), utf8("Hello"), name);
  }
});

Deno.test("RFC 7692 §7.2.3.2: context takeover across messages", async () => {
  const state = new PerMessageDeflate({ role: "client", params: params(), flushPerWrite: FLUSH });
  assert.deepEqual(await state.inflate(hex("f2 48 cd c9 c9 07 00"), 1024), utf8("Hello"));
  // The second "Hello" is a back-reference into the first message.
  assert.deepEqual(await state.inflate(hex("f2 00 11 00 00"), 1024), utf8("Hello"));
  // With server_no_context_takeover agreed, the window is not kept.
  const reset = new PerMessageDeflate({
    role: "client",
    params: params({ serverNoContextTakeover: true }),
    flushPerWrite: FLUSH,
  });
  await reset.inflate(hex("f2 48 cd c9 c9 07 00"), 1024);
  await assert.rejects(reset.inflate(hex("f2 00 11 00 00"), 1024), {
    code: "WS_ERR_INVALID_COMPRESSED_DATA",
    closeCode: 1007,
  });
});

Deno.test("RFC 7692 §7.2.2: invalid compressed data is 1007", async () => {
  const state = new PerMessageDeflate({ role: "server", params: params(), flushPerWrite: FLUSH });
  await assert.rejects(state.inflate(hex("ff ff ff ff"), 1024), {
    code: "WS_ERR_INVALID_COMPRESSED_DATA",
    closeCode: 1007,
  });
});

Deno.test("RFC 7692 §7.2: compress/inflate round trips for every takeover combination and mode", async () => {
  const messages = [
    "",
    "Hello",
    JSON.stringify({ user: "ada", text: "hello ".repeat(50), n: [1, 2, 3] }),
    "x".repeat(100_000),
    JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `user${i % 17}` }))),
  ].map(utf8);
  // 64 KiB of noise: output larger than input.
  const noise = new Uint8Array(65536);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  messages.push(noise);
  for (const flushPerWrite of FLUSH ? [true, false] : [false]) {
    for (const serverNo of [false, true]) {
      for (const clientNo of [false, true]) {
        const agreed = params({
          serverNoContextTakeover: serverNo || !flushPerWrite,
          clientNoContextTakeover: clientNo || !flushPerWrite,
        });
        const client = new PerMessageDeflate({ role: "client", params: agreed, flushPerWrite });
        const server = new PerMessageDeflate({ role: "server", params: agreed, flushPerWrite });
        const label = `flush=${flushPerWrite} server_no=${serverNo} client_no=${clientNo}`;
        for (const message of [...messages, ...messages]) {
          const up = await client.compress(message);
          assert.ok(up !== undefined, label);
          assert.deepEqual(await server.inflate(up, 1 << 24), message, label);
          const down = await server.compress(message);
          assert.ok(down !== undefined, label);
          assert.deepEqual(await client.inflate(down, 1 << 24), message, label);
        }
        client.dispose();
        server.dispose();
      }
    }
  }
});

Deno.test("RFC 7692 §7.2.1: context takeover makes a repeated message smaller", async () => {
  if (!FLUSH) return; // needs a flushing CompressionStream (Deno)
  const state = new PerMessageDeflate({ role: "server", params: params(), flushPerWrite: true });
  const message = utf8(JSON.stringify({ type: "update", data: "the quick brown fox ".repeat(10) }));
  const first = await state.compress(message);
  const second = await state.compress(message);
  assert.ok(
    first && second && second.length < first.length / 2,
    `${first?.length} ${second?.length}`,
  );
  state.dispose();
});

Deno.test("RFC 7692 §7.2.2: the inflated-size limit stops a bomb early (1009)", async () => {
  // 64 MiB of zeros compresses to about 64 KiB.
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const zeros = new Uint8Array(1 << 20);
  (async () => {
    for (let i = 0; i < 64; i++) await writer.write(zeros);
    await writer.close();
  })();
  const bomb = new Uint8Array(await new Response(stream.readable).arrayBuffer());
  assert.ok(bomb.length < 128 * 1024);
  // Count what the inflater really produces.
  const Original = globalThis.DecompressionStream;
  let produced = 0;
  class Counting {
    readonly writable: WritableStream<BufferSource>;
    readonly readable: ReadableStream<Uint8Array>;
    constructor(format: CompressionFormat) {
      const inner = new Original(format);
      this.writable = inner.writable;
      this.readable = inner.readable.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            produced += chunk.length;
            controller.enqueue(chunk);
          },
        }),
      );
    }
  }
  globalThis.DecompressionStream = Counting as unknown as typeof DecompressionStream;
  try {
    const state = new PerMessageDeflate({ role: "server", params: params(), flushPerWrite: FLUSH });
    await assert.rejects(state.inflate(bomb, 1 << 20), {
      code: "WS_ERR_MESSAGE_TOO_BIG",
      closeCode: 1009,
    });
  } finally {
    globalThis.DecompressionStream = Original;
  }
  // Far less than the 64 MiB the payload holds.
  assert.ok(produced < 16 << 20, `inflated ${produced} bytes`);
});

// ---------------------------------------------------------------------------
// Over a connection: our server, a scripted raw client

const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

interface RawClient {
  response: string;
  server: EdgeSocket;
  write(bytes: Uint8Array): Promise<void>;
  /** Reads server frames until `count` data/close frames arrived. */
  frames(count: number): Promise<{ b0: number; payload: Uint8Array }[]>;
  duplex: ByteDuplex;
}

async function rawClient(
  extensions: string,
  serverOptions: Parameters<typeof upgradeConnection>[1],
): Promise<RawClient> {
  const [clientSide, serverSide] = createDuplexPair();
  const accepting = upgradeConnection(serverSide, serverOptions);
  const writer = clientSide.writable.getWriter();
  const reader = clientSide.readable.getReader();
  await writer.write(utf8(
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      (extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : "") + "\r\n",
  ));
  let buffer = new Uint8Array(0);
  const more = async (): Promise<void> => {
    const { value, done } = await reader.read();
    if (done) throw new Error("Connection closed");
    const next = new Uint8Array(buffer.length + value.length);
    next.set(buffer);
    next.set(value, buffer.length);
    buffer = next;
  };
  let end = -1;
  while ((end = new TextDecoder().decode(buffer).indexOf("\r\n\r\n")) < 0) await more();
  const response = new TextDecoder().decode(buffer.subarray(0, end));
  buffer = buffer.subarray(end + 4);
  const server = await accepting;
  return {
    response,
    server,
    duplex: clientSide,
    write: (bytes) => writer.write(bytes),
    async frames(count) {
      const out: { b0: number; payload: Uint8Array }[] = [];
      while (out.length < count) {
        while (buffer.length < 2) await more();
        let length = buffer[1] & 0x7f;
        let at = 2;
        if (length === 126) {
          while (buffer.length < 4) await more();
          length = (buffer[2] << 8) | buffer[3];
          at = 4;
        } else if (length === 127) {
          while (buffer.length < 10) await more();
          length = Number(new DataView(buffer.buffer, buffer.byteOffset + 2, 8).getBigUint64(0));
          at = 10;
        }
        while (buffer.length < at + length) await more();
        out.push({ b0: buffer[0], payload: buffer.slice(at, at + length) });
        buffer = buffer.subarray(at + length);
      }
      return out;
    },
  };
}

function collect(socket: EdgeSocket): { messages: unknown[]; errors: WebSocketError[] } {
  const messages: unknown[] = [];
  const errors: WebSocketError[] = [];
  socket.binaryType = "uint8array";
  socket.addEventListener("message", (e) => messages.push((e as MessageEvent).data));
  socket.addEventListener("error", (e) => {
    const error = (e as ErrorEvent).error;
    if (error instanceof WebSocketError) errors.push(error);
  });
  return { messages, errors };
}

Deno.test("RFC 7692 §6: fragmented compressed messages, split at every payload and wire offset", async () => {
  // "Hello" then a back-reference to it (RFC 7692 §7.2.3.2), then an uncompressed message.
  const first = hex("f2 48 cd c9 c9 07 00");
  const second = hex("f2 00 11 00 00");
  for (let cut = 0; cut <= first.length; cut++) {
    // RFC 7692 §6.1: RSV1 on the first frame only.
    const wire = concatBytes(
      encodeFrame(0x1, first.subarray(0, cut), { fin: false, rsv1: true, mask: MASK }),
      encodeFrame(0x0, first.subarray(cut), { mask: MASK }),
      encodeFrame(0x1, second, { rsv1: true, mask: MASK }),
      encodeFrame(0x1, utf8("plain"), { mask: MASK }),
    );
    for (let split = 0; split <= wire.length; split += cut === 3 ? 1 : 7) {
      const client = await rawClient("permessage-deflate", { perMessageDeflate: true });
      assert.match(client.response, /sec-websocket-extensions: permessage-deflate/i);
      const { messages } = collect(client.server);
      await client.write(wire.slice(0, split));
      await client.write(wire.slice(split));
      await client.write(encodeFrame(0x8, hex("03 e8"), { mask: MASK }));
      await client.server.closed;
      // Order is kept: the uncompressed message does not overtake the compressed ones.
      assert.deepEqual(messages, ["Hello", "Hello", "plain"], `cut ${cut} split ${split}`);
    }
  }
});

Deno.test("RFC 7692 §6: RSV1 without the extension, or on a continuation, fails with 1002", async () => {
  for (
    const [extensions, wire] of [
      ["", encodeFrame(0x1, hex("f2 48 cd c9 c9 07 00"), { rsv1: true, mask: MASK })],
      [
        "permessage-deflate",
        concatBytes(
          encodeFrame(0x1, hex("f2 48 cd"), { fin: false, rsv1: true, mask: MASK }),
          encodeFrame(0x0, hex("c9 c9 07 00"), { rsv1: true, mask: MASK }),
        ),
      ],
    ] as const
  ) {
    const client = await rawClient(extensions, { perMessageDeflate: true });
    const { errors } = collect(client.server);
    await client.write(wire);
    const [close] = await client.frames(1);
    assert.equal(close.b0, 0x88);
    assert.deepEqual([...close.payload], [0x03, 0xea]);
    await assert.rejects(client.server.closed);
    assert.equal(errors[0]?.code, "WS_ERR_RESERVED_BITS");
  }
});

Deno.test("RFC 7692 §7.2.2: inflated text must be UTF-8 (1007); bad data 1007; the inflated size is limited (1009)", async () => {
  const invalidUtf8 = await compressRaw(new Uint8Array([0x48, 0xff, 0xfe]));
  const big = await compressRaw(new Uint8Array(200_000));
  const cases: [payload: Uint8Array, opcode: number, code: string, closeCode: number][] = [
    [invalidUtf8, 0x1, "WS_ERR_INVALID_UTF8", 1007],
    [hex("ff ff ff ff"), 0x2, "WS_ERR_INVALID_COMPRESSED_DATA", 1007],
    [big, 0x2, "WS_ERR_MESSAGE_TOO_BIG", 1009],
  ];
  for (const [payload, opcode, code, closeCode] of cases) {
    const client = await rawClient("permessage-deflate", {
      perMessageDeflate: true,
      maxMessageSize: 100_000,
    });
    const { messages, errors } = collect(client.server);
    await client.write(encodeFrame(opcode, payload, { rsv1: true, mask: MASK }));
    // A message after the bad one is never delivered.
    await client.write(encodeFrame(0x1, utf8("after"), { mask: MASK }));
    const [close] = await client.frames(1);
    assert.equal(close.b0, 0x88, code);
    assert.equal((close.payload[0] << 8) | close.payload[1], closeCode, code);
    await assert.rejects(client.server.closed);
    assert.equal(errors[0]?.code, code);
    assert.deepEqual(messages, []);
  }
});

Deno.test("RFC 7692 §7.2.1: the server compresses above the threshold unless told not to", async () => {
  const client = await rawClient("permessage-deflate", {
    perMessageDeflate: { threshold: 100 },
  });
  const long = "abcdefgh".repeat(50);
  client.server.send("short");
  client.server.send(long);
  client.server.send(long, { compress: false });
  client.server.send(utf8(long));
  const frames = await client.frames(4);
  assert.deepEqual(frames.map((f) => f.b0), [0x81, 0xc1, 0x81, 0xc2]);
  assert.equal(new TextDecoder().decode(frames[0].payload), "short");
  assert.ok(frames[1].payload.length < 50);
  assert.equal(new TextDecoder().decode(frames[2].payload), long);
  const state = new PerMessageDeflate({
    role: "client",
    params: params({ serverNoContextTakeover: !FLUSH, clientNoContextTakeover: !FLUSH }),
    flushPerWrite: FLUSH,
  });
  assert.equal(new TextDecoder().decode(await state.inflate(frames[1].payload, 1 << 20)), long);
  assert.equal(new TextDecoder().decode(await state.inflate(frames[3].payload, 1 << 20)), long);
  client.server.terminate();
});

Deno.test("RFC 7692: our client and server, every takeover combination, messages in order", async () => {
  for (const serverNoContextTakeover of [false, true]) {
    for (const clientNoContextTakeover of [false, true]) {
      const [clientSide, serverSide] = createDuplexPair();
      const accepting = upgradeConnection(serverSide, { perMessageDeflate: { threshold: 0 } });
      const client = openWebSocket("ws://localhost/", clientSide, {
        perMessageDeflate: { threshold: 0, serverNoContextTakeover, clientNoContextTakeover },
      });
      const { extensions } = await client.opened;
      assert.match(extensions, /^permessage-deflate/);
      assert.equal(
        extensions.includes("server_no_context_takeover"),
        serverNoContextTakeover || !FLUSH,
      );
      assert.equal(
        extensions.includes("client_no_context_takeover"),
        clientNoContextTakeover || !FLUSH,
      );
      const server = await accepting;
      assert.equal(server.extensions, extensions);
      server.addEventListener("message", (e) => server.send((e as MessageEvent).data));
      const { messages } = collect(client);
      const sent: (string | Uint8Array)[] = [];
      for (let i = 0; i < 30; i++) {
        const message = i % 3 === 2
          ? utf8(`binary ${i} `.repeat(i * 10))
          : JSON.stringify({ i, text: "hello world ".repeat(i * 20) });
        sent.push(message);
        client.send(message, { compress: i % 5 !== 4 });
      }
      while (messages.length < sent.length) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(messages, sent);
      client.close(1000, "done");
      assert.deepEqual(await server.closed, { closeCode: 1000, reason: "done" });
    }
  }
});

Deno.test("RFC 7692 §7.1: the client fails the handshake on an invalid response", async () => {
  for (
    const response of [
      "permessage-deflate; client_max_window_bits=10",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; server_max_window_bits=4",
    ]
  ) {
    const [clientSide, serverSide] = createDuplexPair();
    const client = openWebSocket("ws://localhost/", clientSide, { perMessageDeflate: true });
    const reader = serverSide.readable.getReader();
    let request = "";
    while (!request.includes("\r\n\r\n")) {
      request += new TextDecoder().decode((await reader.read()).value);
    }
    assert.match(request, /sec-websocket-extensions: permessage-deflate/i);
    const key = /sec-websocket-key: (\S+)/i.exec(request)![1];
    const accept = await computeAccept(key);
    const writer = serverSide.writable.getWriter();
    await writer.write(utf8(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: ${response}\r\n\r\n`,
    ));
    await assert.rejects(client.opened, { code: "WS_ERR_INVALID_HANDSHAKE" }, response);
    await client.closed.catch(() => {});
  }
});

async function compressRaw(data: Uint8Array): Promise<Uint8Array> {
  // A whole DEFLATE stream (BFINAL set): a valid message payload (RFC 7692 §7.2.3.4).
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate-raw"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
