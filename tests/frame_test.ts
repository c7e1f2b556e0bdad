import assert from "node:assert/strict";
import {
  decodeFrameHeader,
  encodeFrame,
  encodeFrameHeader,
  frameHeaderLength,
  Opcode,
  readLength64,
} from "../src/frame.ts";
import { WebSocketError } from "../src/errors.ts";
import {
  type EngineEvent,
  feed,
  fixedKey,
  hex,
  record,
  RFC_KEY,
  splits,
  toHex,
  utf8,
} from "./_fixtures.ts";

/** 0x00, 0x01, … repeating, as a hex string. */
function patternHex(length: number): string {
  return Array.from({ length }, (_, i) => (i & 0xff).toString(16).padStart(2, "0")).join(" ");
}

function pattern(length: number): number[] {
  return Array.from({ length }, (_, i) => i & 0xff);
}

interface Fixture {
  name: string;
  /** The role of the engine that receives these bytes. */
  receiver: "client" | "server";
  wire: string;
  events: EngineEvent[];
  /** What the receiving engine queues in answer (hex; clients mask with RFC_KEY). */
  reply?: string;
  /** Split at every offset (default) or only around the header and the end. */
  sampled?: boolean;
}

const FIXTURES: Fixture[] = [
  // RFC 6455 §5.7 examples.
  {
    name: "RFC 6455 §5.7: a single-frame unmasked text message",
    receiver: "client",
    wire: "81 05 48 65 6c 6c 6f",
    events: [{ type: "text", data: "Hello" }],
  },
  {
    name: "RFC 6455 §5.7: a single-frame masked text message",
    receiver: "server",
    wire: "81 85 37 fa 21 3d 7f 9f 4d 51 58",
    events: [{ type: "text", data: "Hello" }],
  },
  {
    name: "RFC 6455 §5.7: a fragmented unmasked text message",
    receiver: "client",
    wire: "01 03 48 65 6c 80 02 6c 6f",
    events: [{ type: "text", data: "Hello" }],
  },
  {
    name: "RFC 6455 §5.7: unmasked Ping request",
    receiver: "client",
    wire: "89 05 48 65 6c 6c 6f",
    events: [{ type: "ping", data: [...utf8("Hello")] }],
    reply: "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
  },
  {
    name: "RFC 6455 §5.7: masked Pong response",
    receiver: "server",
    wire: "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
    events: [{ type: "pong", data: [...utf8("Hello")] }],
  },
  {
    name: "RFC 6455 §5.7: 256 bytes binary message in a single unmasked frame",
    receiver: "client",
    wire: "82 7e 01 00 " + patternHex(256),
    events: [{ type: "binary", data: pattern(256) }],
  },
  {
    name: "RFC 6455 §5.7: 64KiB binary message in a single unmasked frame",
    receiver: "client",
    wire: "82 7f 00 00 00 00 00 01 00 00 " + patternHex(65536),
    events: [{ type: "binary", data: pattern(65536) }],
    sampled: true,
  },
  // More shapes.
  {
    name: "masked Ping from a client gets an unmasked Pong with the same payload",
    receiver: "server",
    wire: "89 85 37 fa 21 3d 7f 9f 4d 51 58",
    events: [{ type: "ping", data: [...utf8("Hello")] }],
    reply: "8a 05 48 65 6c 6c 6f",
  },
  {
    name: "a masked fragmented text message with a Ping between the fragments",
    receiver: "server",
    wire: "01 83 37 fa 21 3d 7f 9f 4d " + "89 80 01 02 03 04 " + "80 82 37 fa 21 3d 5b 95",
    events: [{ type: "ping", data: [] }, { type: "text", data: "Hello" }],
    reply: "8a 00",
  },
  {
    name: "an empty text message and an empty binary message",
    receiver: "client",
    wire: "81 00 82 00",
    events: [{ type: "text", data: "" }, { type: "binary", data: [] }],
  },
  {
    name: "a 2-byte UTF-8 character split across fragments",
    receiver: "client",
    wire: "01 01 c3 80 01 a9",
    events: [{ type: "text", data: "é" }],
  },
  {
    name: "a 126-byte binary message uses the 16-bit length",
    receiver: "client",
    wire: "82 7e 00 7e " + patternHex(126),
    events: [{ type: "binary", data: pattern(126) }],
  },
  {
    name: "a masked 300-byte binary message",
    receiver: "server",
    wire: toHex(maskedBinary(300)),
    events: [{ type: "binary", data: pattern(300) }],
  },
  {
    name: "a Close frame with code 1000 and a reason is echoed (code and reason)",
    receiver: "server",
    wire: toHex(maskedClose(1000, "bye")),
    events: [{ type: "close", closeCode: 1000, reason: "bye", wasClean: true }],
    reply: "88 05 03 e8 62 79 65",
  },
  {
    name: "an empty Close frame reports 1005 and is echoed empty",
    receiver: "client",
    wire: "88 00",
    events: [{ type: "close", closeCode: 1005, reason: "", wasClean: true }],
    reply: "88 80 37 fa 21 3d",
  },
];

function maskedBinary(length: number): Uint8Array {
  return encodeFrame(Opcode.Binary, new Uint8Array(pattern(length)), { mask: RFC_KEY });
}

function maskedClose(code: number, reason: string): Uint8Array {
  const payload = new Uint8Array([code >> 8, code & 0xff, ...utf8(reason)]);
  return encodeFrame(Opcode.Close, payload, { mask: RFC_KEY });
}

function sampledSplits(length: number): { name: string; cuts: number[] }[] {
  const cuts = new Set<number>();
  for (let i = 1; i <= 20; i++) cuts.add(i);
  for (let i = length - 20; i < length; i++) cuts.add(i);
  for (let i = 1024; i < length; i += 1021) cuts.add(i);
  const out = [{ name: "whole", cuts: [] as number[] }];
  for (const cut of cuts) out.push({ name: `split at ${cut}`, cuts: [cut] });
  // Byte by byte through the header, then 1 KiB chunks, then byte by byte to the end.
  const trickle: number[] = [];
  for (let i = 1; i < 16; i++) trickle.push(i);
  for (let i = 1040; i < length - 16; i += 1024) trickle.push(i);
  for (let i = length - 16; i <= length; i++) trickle.push(i);
  out.push({ name: "trickled", cuts: trickle });
  out.push({ name: "byte by byte", cuts: Array.from({ length }, (_, i) => i + 1) });
  return out;
}

for (const fixture of FIXTURES) {
  Deno.test(`fixture: ${fixture.name}`, async (t) => {
    const wire = hex(fixture.wire);
    const original = wire.slice();
    const ways = fixture.sampled ? sampledSplits(wire.length) : splits(wire.length);
    let reference: string | undefined;
    for (const way of ways) {
      // A fixed masking key makes a client's replies comparable across splits.
      const recorder = record({ role: fixture.receiver, random: fixedKey(RFC_KEY) });
      feed(recorder.engine, wire, way.cuts);
      assert.deepEqual(recorder.events, fixture.events, way.name);
      const output = toHex(new Uint8Array(recorder.engine.takeOutput().flatMap((b) => [...b])));
      reference ??= output;
      assert.equal(output, reference, `${way.name}: same output`);
      if (fixture.reply !== undefined) assert.equal(output, fixture.reply, way.name);
    }
    assert.deepEqual(wire, original, "feed() must not hand the fixture itself to the engine");
    await t.step("decodeFrameHeader reads its first header", () => {
      const header = decodeFrameHeader(wire)!;
      assert.ok(header);
      assert.equal(header.headerLength, frameHeaderLength(header.payloadLength, !!header.mask));
      assert.equal(header.mask !== undefined, fixture.receiver === "server");
      // Every shorter prefix of the header is "need more bytes".
      for (let i = 0; i < header.headerLength; i++) {
        assert.equal(decodeFrameHeader(wire.subarray(0, i)), undefined, `prefix ${i}`);
      }
    });
  });
}

Deno.test("RFC 6455 §5.7: encodeFrame reproduces the examples", () => {
  const hello = utf8("Hello");
  assert.equal(toHex(encodeFrame(Opcode.Text, hello)), "81 05 48 65 6c 6c 6f");
  assert.equal(
    toHex(encodeFrame(Opcode.Text, hello, { mask: RFC_KEY })),
    "81 85 37 fa 21 3d 7f 9f 4d 51 58",
  );
  assert.equal(toHex(encodeFrame(Opcode.Text, utf8("Hel"), { fin: false })), "01 03 48 65 6c");
  assert.equal(toHex(encodeFrame(Opcode.Continuation, utf8("lo"))), "80 02 6c 6f");
  assert.equal(toHex(encodeFrame(Opcode.Ping, hello)), "89 05 48 65 6c 6c 6f");
  assert.equal(
    toHex(encodeFrame(Opcode.Pong, hello, { mask: RFC_KEY })),
    "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
  );
  assert.equal(
    toHex(encodeFrame(Opcode.Binary, new Uint8Array(pattern(256)))),
    "82 7e 01 00 " + patternHex(256),
  );
  const big = encodeFrame(Opcode.Binary, new Uint8Array(pattern(65536)));
  assert.equal(toHex(big.subarray(0, 10)), "82 7f 00 00 00 00 00 01 00 00");
  assert.deepEqual(big.subarray(10), new Uint8Array(pattern(65536)));
  // The payload given is not modified by masking.
  assert.equal(new TextDecoder().decode(hello), "Hello");
});

Deno.test("RFC 6455 §5.2: the three length forms at their boundaries", () => {
  const cases: [number, string][] = [
    [0, "82 00"],
    [125, "82 7d"],
    [126, "82 7e 00 7e"],
    [65535, "82 7e ff ff"],
    [65536, "82 7f 00 00 00 00 00 01 00 00"],
    [2 ** 32 + 5, "82 7f 00 00 00 01 00 00 00 05"],
    [Number.MAX_SAFE_INTEGER, "82 7f 00 1f ff ff ff ff ff ff"],
  ];
  for (const [length, header] of cases) {
    for (const masked of [false, true]) {
      const target = new Uint8Array(14);
      const key = masked ? RFC_KEY : undefined;
      const written = encodeFrameHeader(target, 0, Opcode.Binary, length, { mask: key });
      assert.equal(written, frameHeaderLength(length, masked));
      const expected = masked
        ? header.replace(/^82 (..)/, (_, b) => `82 ${(parseInt(b, 16) | 0x80).toString(16)}`) +
          " 37 fa 21 3d"
        : header;
      assert.equal(toHex(target.subarray(0, written)), expected, `${length} masked=${masked}`);
      const decoded = decodeFrameHeader(target.subarray(0, written))!;
      assert.equal(decoded.payloadLength, length);
      assert.equal(decoded.headerLength, written);
      assert.deepEqual(decoded.mask, key);
    }
  }
});

Deno.test("RFC 6455 §5.2: encodeFrameHeader at an offset, with FIN clear and RSV1 set", () => {
  const target = new Uint8Array(8).fill(0xee);
  const written = encodeFrameHeader(target, 3, Opcode.Text, 3, { fin: false, rsv1: true });
  assert.equal(written, 2);
  assert.equal(toHex(target), "ee ee ee 41 03 ee ee ee");
  const header = decodeFrameHeader(target, 3)!;
  assert.deepEqual(
    { ...header },
    {
      fin: false,
      rsv1: true,
      rsv2: false,
      rsv3: false,
      opcode: 1,
      mask: undefined,
      payloadLength: 3,
      headerLength: 2,
    },
  );
});

Deno.test("RFC 6455 §5.2: decodeFrameHeader reports every bit", () => {
  const header = decodeFrameHeader(hex("7b 7e 01 02"))!;
  assert.equal(header.fin, false);
  assert.equal(header.rsv1, true);
  assert.equal(header.rsv2, true);
  assert.equal(header.rsv3, true);
  assert.equal(header.opcode, 0xb);
  assert.equal(header.payloadLength, 0x102);
});

Deno.test("RFC 6455 §5.2: a 64-bit length with the top bit set is invalid", () => {
  assert.throws(
    () => decodeFrameHeader(hex("82 7f 80 00 00 00 00 00 00 01")),
    (error: unknown) =>
      error instanceof WebSocketError && error.code === "WS_ERR_INVALID_LENGTH" &&
      error.closeCode === 1002,
  );
  assert.throws(() => readLength64(hex("ff ff ff ff ff ff ff ff"), 0), {
    code: "WS_ERR_INVALID_LENGTH",
  });
});

Deno.test("RFC 6455 §5.2: a 64-bit length beyond 2^53 - 1 is too big (1009)", () => {
  assert.throws(() => readLength64(hex("00 20 00 00 00 00 00 00"), 0), {
    code: "WS_ERR_FRAME_TOO_BIG",
    closeCode: 1009,
  });
  assert.equal(readLength64(hex("00 1f ff ff ff ff ff ff"), 0), Number.MAX_SAFE_INTEGER);
  assert.equal(readLength64(hex("aa 00 00 00 01 00 00 00 00 bb"), 1), 2 ** 32);
});
