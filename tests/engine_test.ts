import assert from "node:assert/strict";
import { releaseOutput } from "../mod.ts";
import { decodeClosePayload } from "../src/close.ts";
import {
  _stageLargeBinary,
  DEFAULT_LIMITS,
  type EngineOptions,
  OWNED_MIN,
  ReadyState,
  REUSE_MIN,
  WebSocketEngine,
} from "../src/engine.ts";
import { WebSocketError, type WebSocketErrorCode } from "../src/errors.ts";
import { frameHeaderLength, Opcode } from "../src/frame.ts";
import { giveBack, HEADROOM, LENT_HEADROOM, takeBuffer, transferBuffer } from "../src/_pool.ts";
import {
  assertFailing,
  assertSameBytes,
  concatBytes,
  drainPool,
  type EngineEvent,
  feed,
  fixedKey,
  frame,
  hex,
  INVALID_CLOSE_CODES,
  parseFrames,
  peerFrame,
  record,
  type Recorder,
  RFC_KEY,
  ROLES,
  splits,
  toHex,
  utf8,
  VALID_CLOSE_CODES,
} from "./_fixtures.ts";

type Role = "client" | "server";

function engine(role: Role, options: Partial<EngineOptions> = {}): Recorder {
  return record({ role, random: fixedKey(RFC_KEY), ...options });
}

/**
 * Feeds `input` (whole, and again at every split when short) to a fresh engine
 * and asserts the connection fails with `code` / `closeCode`.
 */
function assertInputFails(
  role: Role,
  input: Uint8Array,
  code: WebSocketErrorCode,
  closeCode: number,
  options: Partial<EngineOptions> = {},
): void {
  const ways = input.length <= 64 ? splits(input.length) : [{ name: "whole", cuts: [] }];
  for (const way of ways) {
    const recorder = engine(role, options);
    feed(recorder.engine, input, way.cuts);
    try {
      assertFailing(recorder, code, closeCode);
    } catch (error) {
      throw new Error(`${role}, ${way.name}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** The frame the peer of `role` sends, as a shorthand. */
const peer = peerFrame;
/** A frame masked the wrong way for `role`'s peer. */
function wrongFrame(role: Role, opcode: number, payload: string): Uint8Array {
  return frame(opcode, payload, { key: role === "server" ? undefined : RFC_KEY });
}

// ---------------------------------------------------------------------------
// §5.1 Masking

Deno.test("RFC 6455 §5.1: server fails on an unmasked frame", () => {
  assertInputFails("server", hex("81 05 48 65 6c 6c 6f"), "WS_ERR_MASK_REQUIRED", 1002);
  assertInputFails("server", hex("89 00"), "WS_ERR_MASK_REQUIRED", 1002);
});

Deno.test("RFC 6455 §5.1: client fails on a masked frame", () => {
  assertInputFails(
    "client",
    hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
    "WS_ERR_UNEXPECTED_MASK",
    1002,
  );
  assertInputFails("client", hex("8a 80 00 00 00 00"), "WS_ERR_UNEXPECTED_MASK", 1002);
});

Deno.test("RFC 6455 §5.1: both roles accept correctly masked frames", () => {
  for (const role of ROLES) {
    const { engine: e, events } = engine(role);
    feed(e, peer(role, Opcode.Text, "ok"));
    assert.deepEqual(events, [{ type: "text", data: "ok" }]);
    assert.equal(wrongFrame(role, Opcode.Text, "ok")[1] & 0x80, role === "server" ? 0 : 0x80);
  }
});

// ---------------------------------------------------------------------------
// §5.2 Base framing

Deno.test("RFC 6455 §5.2: RSV1/2/3 without a negotiated extension fail with 1002", () => {
  for (const role of ROLES) {
    for (const bit of ["rsv1", "rsv2", "rsv3"] as const) {
      assertInputFails(
        role,
        peer(role, Opcode.Text, "x", { [bit]: true }),
        "WS_ERR_RESERVED_BITS",
        1002,
      );
      assertInputFails(
        role,
        peer(role, Opcode.Ping, "", { [bit]: true }),
        "WS_ERR_RESERVED_BITS",
        1002,
      );
    }
  }
});

Deno.test("RFC 7692 §6: RSV1 only on the first frame of a message when compression is on", async (t) => {
  for (const role of ROLES) {
    await t.step(`${role}: RSV1 on a first frame goes to handler.compressed`, () => {
      const { engine: e, events } = engine(role, { compression: true });
      feed(
        e,
        concatBytes(
          peer(role, Opcode.Text, "ab", { rsv1: true, fin: false }),
          peer(role, Opcode.Continuation, "cd"),
          peer(role, Opcode.Binary, "\x01", { rsv1: true }),
          peer(role, Opcode.Text, "plain"),
        ),
      );
      assert.deepEqual(events, [
        { type: "compressed", opcode: Opcode.Text, data: [...utf8("abcd")] },
        { type: "compressed", opcode: Opcode.Binary, data: [1] },
        { type: "text", data: "plain" },
      ]);
    });
    await t.step(`${role}: RSV1 on a continuation fails`, () => {
      assertInputFails(
        role,
        concatBytes(
          peer(role, Opcode.Text, "ab", { rsv1: true, fin: false }),
          peer(role, Opcode.Continuation, "cd", { rsv1: true }),
        ),
        "WS_ERR_RESERVED_BITS",
        1002,
        { compression: true },
      );
    });
    await t.step(`${role}: RSV1 on a control frame fails`, () => {
      assertInputFails(
        role,
        peer(role, Opcode.Ping, "", { rsv1: true }),
        "WS_ERR_RESERVED_BITS",
        1002,
        {
          compression: true,
        },
      );
    });
    await t.step(`${role}: RSV2 and RSV3 still fail`, () => {
      assertInputFails(
        role,
        peer(role, Opcode.Text, "x", { rsv2: true }),
        "WS_ERR_RESERVED_BITS",
        1002,
        {
          compression: true,
        },
      );
      assertInputFails(
        role,
        peer(role, Opcode.Text, "x", { rsv3: true }),
        "WS_ERR_RESERVED_BITS",
        1002,
        {
          compression: true,
        },
      );
    });
  }
});

Deno.test("RFC 6455 §5.2: reserved opcodes 3-7 and 0xB-0xF fail with 1002", () => {
  for (const role of ROLES) {
    for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      assertInputFails(role, peer(role, opcode, ""), "WS_ERR_INVALID_OPCODE", 1002);
      assertInputFails(role, peer(role, opcode, "xyz"), "WS_ERR_INVALID_OPCODE", 1002);
    }
  }
});

Deno.test("RFC 6455 §5.2: a 64-bit length with the top bit set fails with 1002", () => {
  assertInputFails("client", hex("82 7f 80 00 00 00 00 00 00 00"), "WS_ERR_INVALID_LENGTH", 1002);
  assertInputFails(
    "server",
    hex("82 ff ff ff ff ff ff ff ff ff 37 fa 21 3d"),
    "WS_ERR_INVALID_LENGTH",
    1002,
  );
});

// ---------------------------------------------------------------------------
// §5.4 Fragmentation

Deno.test("RFC 6455 §5.4: a continuation without a started message fails with 1002", () => {
  for (const role of ROLES) {
    assertInputFails(
      role,
      peer(role, Opcode.Continuation, "x"),
      "WS_ERR_UNEXPECTED_CONTINUATION",
      1002,
    );
    // Also after a complete message.
    assertInputFails(
      role,
      concatBytes(
        peer(role, Opcode.Text, "a"),
        peer(role, Opcode.Continuation, "b", { fin: false }),
      ),
      "WS_ERR_UNEXPECTED_CONTINUATION",
      1002,
    );
  }
});

Deno.test("RFC 6455 §5.4: a new data frame inside a fragmented message fails with 1002", () => {
  for (const role of ROLES) {
    for (const opcode of [Opcode.Text, Opcode.Binary]) {
      assertInputFails(
        role,
        concatBytes(peer(role, Opcode.Binary, "a", { fin: false }), peer(role, opcode, "b")),
        "WS_ERR_EXPECTED_CONTINUATION",
        1002,
      );
    }
  }
});

Deno.test("RFC 6455 §5.4: pings and pongs inside a fragmented message", () => {
  for (const role of ROLES) {
    const input = concatBytes(
      peer(role, Opcode.Text, "Hel", { fin: false }),
      peer(role, Opcode.Ping, "p1"),
      peer(role, Opcode.Continuation, "l", { fin: false }),
      peer(role, Opcode.Pong, "p2"),
      peer(role, Opcode.Ping, "p3"),
      peer(role, Opcode.Continuation, "o"),
    );
    for (const way of splits(input.length)) {
      const { engine: e, events } = engine(role);
      feed(e, input, way.cuts);
      assert.deepEqual(events, [
        { type: "ping", data: [...utf8("p1")] },
        { type: "pong", data: [...utf8("p2")] },
        { type: "ping", data: [...utf8("p3")] },
        { type: "text", data: "Hello" },
      ], `${role} ${way.name}`);
      const frames = parseFrames(e.takeOutput());
      assert.deepEqual(
        frames.map((f) => [f.opcode, new TextDecoder().decode(f.payload)]),
        [[Opcode.Pong, "p1"], [Opcode.Pong, "p3"]],
      );
      assert.equal(e.state, ReadyState.OPEN);
    }
  }
});

Deno.test("RFC 6455 §5.4: a fragmented binary message is reassembled", () => {
  for (const role of ROLES) {
    const { engine: e, events } = engine(role);
    feed(
      e,
      concatBytes(
        peer(role, Opcode.Binary, hex("01 02"), { fin: false }),
        peer(role, Opcode.Continuation, new Uint8Array(0), { fin: false }),
        peer(role, Opcode.Continuation, hex("03")),
      ),
    );
    assert.deepEqual(events, [{ type: "binary", data: [1, 2, 3] }]);
  }
});

// ---------------------------------------------------------------------------
// §5.5 Control frames

Deno.test("RFC 6455 §5.5: control frames over 125 bytes fail with 1002", () => {
  for (const role of ROLES) {
    for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
      assertInputFails(
        role,
        peer(role, opcode, "x".repeat(126)),
        "WS_ERR_CONTROL_FRAME_TOO_LONG",
        1002,
      );
    }
    // 125 is fine.
    const { engine: e, events } = engine(role);
    feed(e, peer(role, Opcode.Ping, "x".repeat(125)));
    assert.equal(events.length, 1);
    assert.equal(parseFrames(e.takeOutput())[0].payload.length, 125);
  }
});

Deno.test("RFC 6455 §5.5: fragmented control frames fail with 1002", () => {
  for (const role of ROLES) {
    for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
      assertInputFails(
        role,
        peer(role, opcode, "", { fin: false }),
        "WS_ERR_FRAGMENTED_CONTROL_FRAME",
        1002,
      );
    }
  }
});

Deno.test("RFC 6455 §5.5.2: a Ping gets a Pong with the same payload", () => {
  for (const role of ROLES) {
    const { engine: e, events } = engine(role);
    feed(e, peer(role, Opcode.Ping, hex("00 ff 10")));
    assert.deepEqual(events, [{ type: "ping", data: [0, 0xff, 0x10] }]);
    const [pong, ...rest] = parseFrames(e.takeOutput());
    assert.equal(rest.length, 0);
    assert.equal(pong.opcode, Opcode.Pong);
    assert.deepEqual([...pong.payload], [0, 0xff, 0x10]);
    assert.equal(pong.mask !== undefined, role === "client", "clients mask their pongs");
  }
});

Deno.test("RFC 6455 §5.5.2: no Pong after we sent a Close", () => {
  for (const role of ROLES) {
    const { engine: e, events } = engine(role);
    e.close(1000);
    e.takeOutput();
    feed(e, peer(role, Opcode.Ping, "late"));
    assert.deepEqual(events, [{ type: "ping", data: [...utf8("late")] }]);
    assert.deepEqual(e.takeOutput(), []);
    assert.equal(e.state, ReadyState.CLOSING);
  }
});

// ---------------------------------------------------------------------------
// §5.5.1 / §7 Closing

function closePayload(code: number, reason = ""): Uint8Array {
  return concatBytes(new Uint8Array([code >> 8, code & 0xff]), utf8(reason));
}

Deno.test("RFC 6455 §7.4.1: invalid close codes fail with 1002", () => {
  for (const role of ROLES) {
    for (const code of INVALID_CLOSE_CODES) {
      assertInputFails(
        role,
        peer(role, Opcode.Close, closePayload(code)),
        "WS_ERR_INVALID_CLOSE_CODE",
        1002,
      );
    }
  }
});

Deno.test("RFC 6455 §7.4.1: valid close codes are accepted and echoed", () => {
  for (const role of ROLES) {
    for (const code of VALID_CLOSE_CODES) {
      const { engine: e, events } = engine(role);
      feed(e, peer(role, Opcode.Close, closePayload(code, "why")));
      assert.deepEqual(events, [{ type: "close", closeCode: code, reason: "why", wasClean: true }]);
      const frames = parseFrames(e.takeOutput());
      assert.equal(frames.length, 1);
      assert.equal(frames[0].opcode, Opcode.Close);
      assert.equal(decodeClosePayload(frames[0].payload).closeCode, code);
    }
  }
});

Deno.test("RFC 6455 §5.5.1: a 1-byte close payload fails with 1002", () => {
  for (const role of ROLES) {
    assertInputFails(
      role,
      peer(role, Opcode.Close, hex("03")),
      "WS_ERR_INVALID_CLOSE_PAYLOAD",
      1002,
    );
  }
});

Deno.test("RFC 6455 §5.5.1: invalid UTF-8 in a close reason fails with 1007", () => {
  for (const role of ROLES) {
    assertInputFails(
      role,
      peer(role, Opcode.Close, concatBytes(closePayload(1000), hex("ce"))),
      "WS_ERR_INVALID_UTF8",
      1007,
    );
  }
});

Deno.test("RFC 6455 §7.1.5: peer-initiated close is echoed and clean", async (t) => {
  for (const role of ROLES) {
    await t.step(`${role}: with a code`, () => {
      const { engine: e, events, errors } = engine(role);
      feed(e, peer(role, Opcode.Close, closePayload(1001, "going")));
      assert.equal(e.state, ReadyState.CLOSED);
      assert.deepEqual(events, [{
        type: "close",
        closeCode: 1001,
        reason: "going",
        wasClean: true,
      }]);
      assert.equal(errors.length, 0);
      const frames = parseFrames(e.takeOutput());
      assert.equal(frames.length, 1);
      assert.equal(frames[0].opcode, Opcode.Close);
      assert.equal(decodeClosePayload(frames[0].payload).closeCode, 1001);
      assert.throws(() => e.sendText("x"), { code: "WS_ERR_NOT_OPEN" });
      assert.throws(() => e.sendBinary(new Uint8Array(1)), { code: "WS_ERR_NOT_OPEN" });
      assert.throws(() => e.sendFrame(Opcode.Text, new Uint8Array(1)), { code: "WS_ERR_NOT_OPEN" });
      assert.throws(() => e.ping(), { code: "WS_ERR_NOT_OPEN" });
      assert.throws(() => e.pong(), { code: "WS_ERR_NOT_OPEN" });
      e.close(1000);
      assert.deepEqual(e.takeOutput(), [], "no second Close");
    });
    await t.step(`${role}: an empty Close reports 1005 and is echoed empty`, () => {
      const { engine: e, events } = engine(role);
      feed(e, peer(role, Opcode.Close));
      assert.deepEqual(events, [{ type: "close", closeCode: 1005, reason: "", wasClean: true }]);
      const frames = parseFrames(e.takeOutput());
      assert.equal(frames.length, 1);
      assert.equal(frames[0].opcode, Opcode.Close);
      assert.equal(frames[0].payload.length, 0);
    });
    await t.step(`${role}: bytes after the Close frame are ignored`, () => {
      const { engine: e, events } = engine(role);
      const input = concatBytes(
        peer(role, Opcode.Text, "before"),
        peer(role, Opcode.Close, closePayload(1000)),
        peer(role, Opcode.Text, "after"),
        hex("ff ff ff"),
      );
      feed(e, input);
      feed(e, peer(role, Opcode.Ping, "later"));
      assert.deepEqual(events, [
        { type: "text", data: "before" },
        { type: "close", closeCode: 1000, reason: "", wasClean: true },
      ]);
      assert.equal(parseFrames(e.takeOutput()).length, 1, "only the echoed Close");
    });
  }
});

Deno.test("RFC 6455 §7.1.2: locally initiated close", async (t) => {
  for (const role of ROLES) {
    await t.step(`${role}: CLOSING, then CLOSED on the peer's Close, no second Close`, () => {
      const { engine: e, events } = engine(role);
      e.close(1000, "bye");
      assert.equal(e.state, ReadyState.CLOSING);
      assert.equal(e.closeSent, true);
      const frames = parseFrames(e.takeOutput());
      assert.equal(frames.length, 1);
      assert.equal(frames[0].opcode, Opcode.Close);
      assert.equal(frames[0].mask !== undefined, role === "client");
      assert.deepEqual(decodeClosePayload(frames[0].payload), { closeCode: 1000, reason: "bye" });
      // Nothing more may be sent; close() again is a no-op.
      assert.throws(() => e.sendText("x"), { code: "WS_ERR_NOT_OPEN" });
      assert.throws(() => e.ping(), { code: "WS_ERR_NOT_OPEN" });
      e.close(1001);
      assert.deepEqual(e.takeOutput(), []);
      // Messages still arrive while closing.
      feed(
        e,
        concatBytes(
          peer(role, Opcode.Text, "in flight"),
          peer(role, Opcode.Close, closePayload(1000)),
        ),
      );
      assert.equal(e.state, ReadyState.CLOSED);
      assert.deepEqual(events, [
        { type: "text", data: "in flight" },
        { type: "close", closeCode: 1000, reason: "", wasClean: true },
      ]);
      assert.deepEqual(e.takeOutput(), [], "no second Close");
    });
    await t.step(`${role}: an empty Close`, () => {
      const { engine: e } = engine(role);
      e.close();
      const [close] = parseFrames(e.takeOutput());
      assert.equal(close.payload.length, 0);
    });
    await t.step(`${role}: a protocol error while closing sends no second Close`, () => {
      const recorder = engine(role);
      recorder.engine.close(1000);
      recorder.engine.takeOutput();
      feed(recorder.engine, peer(role, 0x3));
      assertFailing(recorder, "WS_ERR_INVALID_OPCODE", 1002, { sentCloseBefore: true });
    });
  }
});

Deno.test("RFC 6455 §5.5.1: close() argument checks", () => {
  for (const role of ROLES) {
    const { engine: e } = engine(role);
    assert.throws(() => e.close(1000, "x".repeat(124)), RangeError);
    assert.throws(() => e.close(1000, "é".repeat(62)), RangeError);
    for (const code of [...INVALID_CLOSE_CODES, 1000.5]) {
      assert.throws(() => e.close(code), RangeError);
    }
    // A failed call leaves the engine open.
    assert.equal(e.state, ReadyState.OPEN);
    assert.deepEqual(e.takeOutput(), []);
    e.close(1000, "x".repeat(123));
    assert.equal(parseFrames(e.takeOutput())[0].payload.length, 125);
  }
});

// ---------------------------------------------------------------------------
// §8.1 UTF-8

Deno.test("RFC 6455 §8.1: invalid UTF-8 in a text message fails with 1007", () => {
  for (const role of ROLES) {
    for (const bad of ["ff", "c0 80", "ed a0 80", "f4 90 80 80", "ce", "41 42 fe"]) {
      assertInputFails(role, peer(role, Opcode.Text, hex(bad)), "WS_ERR_INVALID_UTF8", 1007);
    }
  }
});

Deno.test("RFC 6455 §8.1: invalid UTF-8 fails fast, on the fragment where it shows", () => {
  for (const role of ROLES) {
    // An invalid byte in the first, non-final fragment.
    let recorder = engine(role);
    feed(recorder.engine, peer(role, Opcode.Text, hex("41 ff"), { fin: false }));
    assertFailing(recorder, "WS_ERR_INVALID_UTF8", 1007);
    // A sequence split across fragments that turns invalid in the second (non-final) one.
    recorder = engine(role);
    feed(recorder.engine, peer(role, Opcode.Text, hex("41 ed"), { fin: false }));
    assert.equal(recorder.errors.length, 0, "ED alone may still be valid");
    feed(recorder.engine, peer(role, Opcode.Continuation, hex("a0"), { fin: false }));
    assertFailing(recorder, "WS_ERR_INVALID_UTF8", 1007);
    // A truncated sequence at the final fragment.
    recorder = engine(role);
    feed(recorder.engine, peer(role, Opcode.Text, hex("41 e2 82"), { fin: false }));
    assert.equal(recorder.errors.length, 0);
    feed(recorder.engine, peer(role, Opcode.Continuation, new Uint8Array(0)));
    assertFailing(recorder, "WS_ERR_INVALID_UTF8", 1007);
  }
});

Deno.test("RFC 6455 §8.1: multi-byte characters split across fragments decode", () => {
  const text = "aé€😀z";
  const bytes = utf8(text);
  for (const role of ROLES) {
    // Cut the message into fragments at every pair of offsets.
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        const { engine: e, events, errors } = engine(role);
        feed(
          e,
          concatBytes(
            peer(role, Opcode.Text, bytes.slice(0, i), { fin: false }),
            peer(role, Opcode.Continuation, bytes.slice(i, j), { fin: false }),
            peer(role, Opcode.Continuation, bytes.slice(j)),
          ),
        );
        assert.equal(errors.length, 0, `${i}/${j}`);
        assert.deepEqual(events, [{ type: "text", data: text }], `${i}/${j}`);
      }
    }
  }
});

Deno.test("RFC 6455 §8.1: a leading BOM is preserved", () => {
  for (const role of ROLES) {
    const { engine: e, events } = engine(role);
    feed(
      e,
      concatBytes(
        peer(role, Opcode.Text, hex("ef bb bf 41")),
        peer(role, Opcode.Text, hex("ef bb"), { fin: false }),
        peer(role, Opcode.Continuation, hex("bf 42")),
        peer(role, Opcode.Text, "ascii"),
        peer(role, Opcode.Text, hex("ef bb bf")),
      ),
    );
    assert.deepEqual(events, [
      { type: "text", data: "\ufeffA" },
      { type: "text", data: "\ufeffB" },
      { type: "text", data: "ascii" },
      { type: "text", data: "\ufeff" },
    ]);
  }
});

Deno.test("RFC 6455 §8.1: binary messages are not UTF-8 checked", () => {
  for (const role of ROLES) {
    const { engine: e, events } = engine(role);
    feed(e, peer(role, Opcode.Binary, hex("ff fe")));
    assert.deepEqual(events, [{ type: "binary", data: [0xff, 0xfe] }]);
  }
});

// ---------------------------------------------------------------------------
// §10.4 Limits

const GIB_HEADER = {
  client: "82 7f 00 00 00 00 40 00 00 00",
  server: "82 ff 00 00 00 00 40 00 00 00 37 fa 21 3d",
};

Deno.test("RFC 6455 §10.4: a frame over maxFrameSize fails with 1009 from its header alone", () => {
  for (const role of ROLES) {
    // Only the header of a 1 GiB frame: the failure cannot wait for (or allocate) the payload.
    assertInputFails(role, hex(GIB_HEADER[role]), "WS_ERR_FRAME_TOO_BIG", 1009);
    assertInputFails(
      role,
      peer(role, Opcode.Binary, new Uint8Array(11)),
      "WS_ERR_FRAME_TOO_BIG",
      1009,
      {
        maxFrameSize: 10,
      },
    );
    const { engine: e, events } = engine(role, { maxFrameSize: 10 });
    feed(e, peer(role, Opcode.Binary, new Uint8Array(10)));
    assert.equal(events.length, 1);
  }
});

Deno.test("RFC 6455 §10.4: a message over maxMessageSize fails with 1009, across fragments", () => {
  for (const role of ROLES) {
    const first = peer(role, Opcode.Text, "12345", { fin: false });
    const second = peer(role, Opcode.Continuation, "678901");
    // The second fragment's header is enough.
    const headerOnly = second.subarray(0, role === "server" ? 6 : 2);
    assertInputFails(role, concatBytes(first, headerOnly), "WS_ERR_MESSAGE_TOO_BIG", 1009, {
      maxMessageSize: 10,
    });
    // Exactly the limit passes; the count restarts with each message.
    const { engine: e, events } = engine(role, { maxMessageSize: 10 });
    feed(
      e,
      concatBytes(
        first,
        peer(role, Opcode.Continuation, "67890"),
        peer(role, Opcode.Text, "abcdefghij"),
      ),
    );
    assert.deepEqual(events, [{ type: "text", data: "1234567890" }, {
      type: "text",
      data: "abcdefghij",
    }]);
  }
});

Deno.test("RFC 6455 §10.4: a message over maxFragments fails with 1009", () => {
  for (const role of ROLES) {
    const fragments = [
      peer(role, Opcode.Binary, "a", { fin: false }),
      peer(role, Opcode.Pong, ""), // control frames do not count
      peer(role, Opcode.Continuation, "b", { fin: false }),
      peer(role, Opcode.Continuation, "c", { fin: false }),
    ];
    assertInputFails(
      role,
      concatBytes(...fragments, peer(role, Opcode.Continuation, "d")),
      "WS_ERR_TOO_MANY_FRAGMENTS",
      1009,
      { maxFragments: 3 },
    );
    const { engine: e, events } = engine(role, { maxFragments: 3 });
    feed(
      e,
      concatBytes(
        ...fragments.slice(0, 3),
        peer(role, Opcode.Continuation, "c"),
        peer(role, Opcode.Text, "x"),
      ),
    );
    assert.deepEqual(events.filter((event) => event.type !== "pong"), [
      { type: "binary", data: [...utf8("abc")] },
      { type: "text", data: "x" },
    ]);
  }
});

Deno.test("RFC 6455 §10.4: default limits are 16 MiB / 16 MiB / 1024", async (t) => {
  assert.deepEqual({ ...DEFAULT_LIMITS }, {
    maxFrameSize: 16 * 1024 * 1024,
    maxMessageSize: 16 * 1024 * 1024,
    maxFragments: 1024,
  });
  const MIB16 = 16 * 1024 * 1024;
  await t.step("a 16 MiB frame header is accepted, 16 MiB + 1 is not", () => {
    const { engine: e, errors } = engine("client");
    feed(e, hex("82 7f 00 00 00 00 01 00 00 00"));
    assert.equal(errors.length, 0);
    assert.equal(e.state, ReadyState.OPEN);
    assertInputFails("client", hex("82 7f 00 00 00 00 01 00 00 01"), "WS_ERR_FRAME_TOO_BIG", 1009);
  });
  await t.step("a message of 16 MiB is accepted, one byte more is not", () => {
    const head = concatBytes(hex("02 7f 00 00 00 00 01 00 00 00"), new Uint8Array(MIB16));
    const ok = engine("client");
    feed(ok.engine, concatBytes(head, hex("80 00")));
    assert.equal(ok.errors.length, 0);
    assert.equal(ok.events.length, 1);
    const failing = engine("client");
    feed(failing.engine, concatBytes(head, hex("80 01")));
    assertFailing(failing, "WS_ERR_MESSAGE_TOO_BIG", 1009);
  });
  await t.step("1024 fragments are accepted, 1025 are not", () => {
    const fragment = hex("00 01 61");
    const many = (n: number): Uint8Array =>
      concatBytes(
        hex("01 01 61"),
        ...Array.from({ length: n - 2 }, () => fragment),
        hex("80 01 61"),
      );
    const ok = engine("client");
    feed(ok.engine, many(1024));
    assert.deepEqual(ok.events, [{ type: "text", data: "a".repeat(1024) }]);
    const failing = engine("client");
    feed(failing.engine, many(1025));
    assertFailing(failing, "WS_ERR_TOO_MANY_FRAGMENTS", 1009);
  });
});

Deno.test("engine: a payload trickled byte by byte is taken in linear time", () => {
  // Regression: the chunk list used to be shifted once per chunk (quadratic:
  // ~100 s for 512 KiB byte by byte). This finishes in well under a second.
  const payload = new Uint8Array(512 * 1024).map((_, i) => i * 7);
  const wire = frame(Opcode.Binary, payload);
  const { engine: e, events } = engine("client");
  for (let i = 0; i < wire.length; i++) e.receive(wire.slice(i, i + 1));
  assert.equal(events.length, 1);
  const event = events[0];
  assert.ok(event.type === "binary");
  assert.deepEqual(new Uint8Array(event.data), payload);
});

for (const role of ROLES) {
  Deno.test(`engine (${role}): a trickled payload is assembled as it arrives, then a frame follows`, () => {
    // Many small chunks are copied into one payload buffer as they come (memory stays
    // near the payload size); the frame after it, in the same chunks, still parses.
    const payload = new Uint8Array(100_000).map((_, i) => i * 13);
    const wire = concatBytes(
      peerFrame(role, Opcode.Binary, payload),
      peerFrame(role, Opcode.Text, "next"),
    );
    const { engine: e, events } = engine(role);
    for (let i = 0; i < wire.length; i += 7) e.receive(wire.slice(i, i + 7));
    assert.equal(events.length, 2);
    const [first, second] = events;
    assert.ok(first.type === "binary");
    assertSameBytes(new Uint8Array(first.data), payload, role);
    assert.deepEqual(second, { type: "text", data: "next" });
  });
}

// ---------------------------------------------------------------------------
// §5.3 / §5.2 Sending

Deno.test("RFC 6455 §5.3: client frames are masked with the injected random", () => {
  const { engine: client } = engine("client");
  client.sendText("Hello");
  assert.equal(toHex(client.takeOutput()[0]), "81 85 37 fa 21 3d 7f 9f 4d 51 58");
  // A fresh key for every frame.
  let counter = 0;
  const keyed = record({ role: "client", random: (bytes) => bytes.fill(++counter) });
  keyed.engine.sendText("a");
  keyed.engine.sendBinary(hex("01"));
  keyed.engine.ping(hex("02"));
  keyed.engine.pong(hex("03"));
  keyed.engine.close(1000);
  assert.equal(
    toHex(keyed.engine.takeOutput()[0]),
    [
      "81 81 01 01 01 01 60",
      "82 81 02 02 02 02 03",
      "89 81 03 03 03 03 01",
      "8a 81 04 04 04 04 07",
      "88 82 05 05 05 05 06 ed",
    ].join(" "),
  );
});

Deno.test("RFC 6455 §5.1: server frames are not masked", () => {
  const { engine: server } = engine("server");
  server.sendText("Hello");
  server.ping(utf8("Hello"));
  assert.equal(toHex(server.takeOutput()[0]), "81 05 48 65 6c 6c 6f 89 05 48 65 6c 6c 6f");
});

Deno.test("RFC 6455 §5.2: sent frames use the three length forms at 125/126/65535/65536", () => {
  const expected: [number, string][] = [
    [125, "7d"],
    [126, "7e 00 7e"],
    [65535, "7e ff ff"],
    [65536, "7f 00 00 00 00 00 01 00 00"],
    [65537, "7f 00 00 00 00 00 01 00 01"],
  ];
  for (const role of ROLES) {
    for (const [length, lengthHex] of expected) {
      for (const kind of ["binary", "text"] as const) {
        const { engine: e } = engine(role);
        const data = new Uint8Array(length).map((_, i) => 0x20 + (i % 90));
        if (kind === "text") e.sendText(new TextDecoder().decode(data));
        else e.sendBinary(data);
        const output = concatBytes(...e.takeOutput());
        const first = parseInt(lengthHex.slice(0, 2), 16) | (role === "client" ? 0x80 : 0);
        const header =
          `${kind === "text" ? "81" : "82"} ${first.toString(16)}${lengthHex.slice(2)}` +
          (role === "client" ? " 37 fa 21 3d" : "");
        const headerLength = header.split(" ").length;
        assert.equal(toHex(output.subarray(0, headerLength)), header, `${role} ${kind} ${length}`);
        const [sent, ...rest] = parseFrames(output);
        assert.equal(rest.length, 0);
        assert.deepEqual(sent.payload, data);
        // Peers of the other role read it back.
        const reader = engine(role === "client" ? "server" : "client");
        feed(reader.engine, output);
        assert.equal(reader.errors.length, 0);
      }
    }
  }
});

Deno.test("RFC 6455 §5.4: sendFrame fragments a message", () => {
  for (const role of ROLES) {
    const { engine: e } = engine(role);
    e.sendFrame(Opcode.Text, utf8("Hel"), { fin: false });
    e.ping(utf8("mid"));
    e.sendFrame(Opcode.Continuation, utf8("l"), { fin: false });
    e.sendFrame(Opcode.Continuation, utf8("o"));
    const output = concatBytes(...e.takeOutput());
    assert.deepEqual(
      parseFrames(output).map((f) => [f.fin, f.opcode, new TextDecoder().decode(f.payload)]),
      [[false, 1, "Hel"], [true, 9, "mid"], [false, 0, "l"], [true, 0, "o"]],
    );
    if (role === "server") assert.equal(toHex(output.subarray(0, 5)), "01 03 48 65 6c");
    const reader = engine(role === "client" ? "server" : "client");
    feed(reader.engine, output);
    assert.deepEqual(reader.events, [{ type: "ping", data: [...utf8("mid")] }, {
      type: "text",
      data: "Hello",
    }]);
    assert.throws(() => e.sendFrame(Opcode.Ping, new Uint8Array(0)), TypeError);
  }
});

Deno.test("RFC 6455 §5.5: control payload limits when sending", () => {
  for (const role of ROLES) {
    const { engine: e } = engine(role);
    assert.throws(() => e.ping(new Uint8Array(126)), RangeError);
    assert.throws(() => e.pong(new Uint8Array(126)), RangeError);
    e.ping(new Uint8Array(125));
    assert.equal(parseFrames(e.takeOutput())[0].payload.length, 125);
  }
});

Deno.test("engine: takeOutput coalesces small frames into one buffer", () => {
  for (const role of ROLES) {
    const { engine: e } = engine(role);
    assert.deepEqual(e.takeOutput(), []);
    e.sendText("a");
    e.sendText("b");
    e.sendBinary(hex("01 02"));
    assert.ok(e.bufferedAmount > 0);
    const out = e.takeOutput();
    assert.equal(out.length, 1);
    assert.equal(e.bufferedAmount, 0);
    assert.equal(parseFrames(out[0]).length, 3);
    assert.deepEqual(e.takeOutput(), []);
  }
  const { engine: server } = engine("server");
  server.sendText("a");
  server.sendText("b");
  assert.equal(toHex(server.takeOutput()[0]), "81 01 61 81 01 62");
});

Deno.test("engine: sendBinary snapshots its argument, large server frames included", () => {
  // Regression: server payloads over 64 KiB were queued by reference, so a
  // caller reusing its buffer after send() changed the bytes on the wire.
  for (const role of ROLES) {
    for (const size of [10, 65536, 65537, 200_000]) {
      const { engine: e } = engine(role);
      const data = new Uint8Array(size).fill(1);
      e.sendBinary(data);
      e.sendFrame(Opcode.Binary, data);
      data.fill(2);
      const frames = parseFrames(e.takeOutput());
      assert.equal(frames.length, 2);
      for (const sent of frames) {
        assert.ok(sent.payload.every((b) => b === 1), `${role} ${size}`);
      }
    }
  }
});

Deno.test("engine: sendBinary does not modify its argument", () => {
  const { engine: e } = engine("client");
  const data = hex("01 02 03 04 05");
  e.sendBinary(data);
  assert.equal(toHex(data), "01 02 03 04 05");
});

Deno.test("engine: receive() takes ownership and unmasks in place", () => {
  const { engine: e, events } = engine("server");
  const chunk = hex("82 85 37 fa 21 3d 7f 9f 4d 51 58");
  e.receive(chunk);
  assert.deepEqual(events, [{ type: "binary", data: [...utf8("Hello")] }]);
  // The payload bytes of the chunk itself were unmasked: callers must pass a buffer they own.
  assert.equal(toHex(chunk.subarray(6)), "48 65 6c 6c 6f");
});

Deno.test("engine: readBuffer()/commitRead() read a large payload straight into its buffer", () => {
  for (const role of ROLES) {
    const { engine: e, events } = engine(role);
    const payload = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
    const wire = concatBytes(peer(role, Opcode.Binary, payload), peer(role, Opcode.Text, "x"));
    // Between frames there is nothing to read into.
    assert.equal(e.readBuffer(1), undefined);
    const bodyStart = wire.length - payload.length - peer(role, Opcode.Text, "x").length;
    e.receive(wire.slice(0, bodyStart + 1000));
    // 99,000 bytes missing: fewer than asked for, so no direct read...
    assert.equal(e.readBuffer(99_001), undefined);
    // ...but enough for this threshold: the rest of the payload buffer.
    const target = e.readBuffer(16_384)!;
    assert.equal(target.length, 99_000);
    let at = bodyStart + 1000;
    target.set(wire.subarray(at, at + 50_000));
    e.commitRead(50_000);
    at += 50_000;
    assert.deepEqual(events, []);
    const rest = e.readBuffer(16_384)!;
    assert.equal(rest.length, 49_000);
    assert.throws(() => e.commitRead(49_001), RangeError);
    rest.set(wire.subarray(at, at + 49_000));
    e.commitRead(49_000);
    assert.equal(events.length, 1);
    assert.deepEqual(events[0], { type: "binary", data: [...payload] });
    // The next frame comes through receive() as usual.
    e.receive(wire.slice(at + 49_000));
    assert.deepEqual(events[1], { type: "text", data: "x" });
  }
});

Deno.test("engine (server): a masked payload unmasks right when read in pieces at any offset", () => {
  const payload = new Uint8Array(70_001).map((_, i) => (i * 13 + 5) & 0xff);
  const wire = peer("server", Opcode.Binary, payload);
  const bodyStart = wire.length - payload.length;
  // Piece ends at every key phase, through receive() (partial assembly) and direct reads.
  for (const direct of [false, true]) {
    for (const first of [1, 2, 3, 4, 5]) {
      const { engine: e, events } = engine("server");
      e.receive(wire.slice(0, bodyStart + first));
      let at = bodyStart + first;
      for (const size of [3, 1, 40_002, 7, 29_001]) {
        const piece = wire.subarray(at, Math.min(at + size, wire.length));
        const target = direct ? e.readBuffer(1) : undefined;
        if (target !== undefined) {
          target.set(piece);
          e.commitRead(piece.length);
        } else e.receive(piece.slice());
        at += piece.length;
      }
      e.receive(wire.slice(at));
      assert.equal(events.length, 1, `direct ${direct}, first ${first}`);
      const data = new Uint8Array((events[0] as { data: number[] }).data);
      assertSameBytes(data, payload, `direct ${direct}, first ${first}`);
    }
  }
});

Deno.test("engine: atLargeFrameBoundary() holds only between frames, after a large one", () => {
  for (const role of ROLES) {
    const { engine: e, events } = engine(role);
    const large = peer(role, Opcode.Binary, new Uint8Array(20_000).fill(3));
    const small = peer(role, Opcode.Text, "x");
    assert.equal(e.atLargeFrameBoundary(16_384), false); // no frame yet
    e.receive(large.slice(0, 5)); // inside the header
    assert.equal(e.atLargeFrameBoundary(16_384), false);
    e.receive(large.slice(5, 1000)); // inside the payload
    assert.equal(e.atLargeFrameBoundary(16_384), false);
    e.receive(large.slice(1000));
    assert.equal(events.length, 1);
    assert.equal(e.atLargeFrameBoundary(16_384), true);
    assert.equal(e.atLargeFrameBoundary(20_001), false); // not that large
    e.receive(concatBytes(small, small.subarray(0, 1))); // a byte of the next frame is buffered
    assert.equal(e.atLargeFrameBoundary(1), false);
    e.receive(small.slice(1));
    assert.equal(e.atLargeFrameBoundary(16_384), false); // the last frame was small
    assert.equal(e.atLargeFrameBoundary(1), true);
  }
});

Deno.test("engine: takeOutput() keeps frame order across small and large frames; taken bytes stay intact", () => {
  for (const role of ROLES) {
    const { engine: e } = engine(role);
    const large = new Uint8Array(70_000).fill(7);
    e.sendText("a");
    e.sendBinary(large);
    e.sendText("é".repeat(100)); // encoded into a worst-case slot, then moved up
    const key = role === "client" ? 4 : 0; // masking key per client frame
    assert.equal(e.bufferedAmount, (2 + 1) + (10 + 70_000) + (4 + 200) + 3 * key);
    const taken = e.takeOutput();
    const snapshot = concatBytes(...taken);
    // The next frames reuse the engine's output buffer; what was taken must not change.
    e.sendText("z".repeat(500));
    e.sendText("y");
    assert.deepEqual(concatBytes(...taken), snapshot);
    const frames = parseFrames(taken);
    assert.deepEqual(frames.map((f) => [f.opcode, f.payload.length]), [
      [Opcode.Text, 1],
      [Opcode.Binary, 70_000],
      [Opcode.Text, 200],
    ]);
    assert.ok(frames[1].payload.every((b) => b === 7));
    assert.equal(new TextDecoder().decode(frames[2].payload), "é".repeat(100));
    const next = parseFrames(e.takeOutput());
    assert.deepEqual(next.map((f) => new TextDecoder().decode(f.payload)), ["z".repeat(500), "y"]);
    assert.deepEqual(e.takeOutput(), []);
  }
});

// ---------------------------------------------------------------------------
// Lifecycle

Deno.test("RFC 6455 §4: a CONNECTING engine neither sends nor receives until open()", () => {
  for (const role of ROLES) {
    const { engine: e, events } = record({ role, connecting: true });
    assert.equal(e.state, ReadyState.CONNECTING);
    assert.throws(() => e.sendText("x"), { code: "WS_ERR_NOT_OPEN" });
    assert.throws(() => e.receive(peer(role, Opcode.Text, "x")), TypeError);
    e.open();
    assert.equal(e.state, ReadyState.OPEN);
    feed(e, peer(role, Opcode.Text, "x"));
    assert.deepEqual(events, [{ type: "text", data: "x" }]);
  }
});

Deno.test("RFC 6455 §4: close() while CONNECTING sends nothing and ends with 1006", () => {
  // Regression: a Close frame used to be queued before the handshake finished.
  for (const role of ROLES) {
    const { engine: e, closes } = record({ role, connecting: true });
    assert.throws(() => e.close(1005), RangeError);
    e.close(1000, "bye");
    assert.equal(e.state, ReadyState.CLOSED);
    assert.deepEqual(e.takeOutput(), []);
    assert.deepEqual(closes, [{ closeCode: 1006, reason: "", wasClean: false }]);
  }
});

Deno.test("RFC 6455 §7.1.7: fail() queues a Close with the error's code; abort() queues nothing", () => {
  for (const role of ROLES) {
    const failing = engine(role);
    failing.engine.fail(new WebSocketError("WS_ERR_INTERNAL", "boom", { closeCode: 1011 }));
    assertFailing(failing, "WS_ERR_INTERNAL", 1011);

    const aborted = engine(role);
    aborted.engine.sendText("unsent");
    aborted.engine.takeOutput();
    aborted.engine.abort(
      new WebSocketError("WS_ERR_CONNECTION_LOST", "gone", { closeCode: 1006 }),
    );
    assert.equal(aborted.engine.state, ReadyState.CLOSED);
    assert.deepEqual(aborted.engine.takeOutput(), []);
    assert.deepEqual(aborted.events, [
      { type: "error", code: "WS_ERR_CONNECTION_LOST", closeCode: 1006 },
      { type: "close", closeCode: 1006, reason: "", wasClean: false },
    ]);
    aborted.engine.abort();
    aborted.engine.fail(new WebSocketError("WS_ERR_INTERNAL", "late", { closeCode: 1011 }));
    assert.equal(aborted.events.length, 2, "close is reported once");
  }
});

// ---------------------------------------------------------------------------
// Output buffer pool (poolOutput / releaseOutput)

/** A recorder whose engine hands out pooled output. */
function pooled(role: Role, options: Partial<EngineOptions> = {}): Recorder {
  const recorder = engine(role, options);
  recorder.engine.poolOutput();
  return recorder;
}

/**
 * Queues a mix of frames: small ones coalesced (growing the output buffer
 * past 1 KiB), a run of small ones past the 64 KiB coalescing limit, large
 * binary and text frames, fragments, control frames and a Close.
 */
function sendMix(e: WebSocketEngine): void {
  e.sendText("a");
  e.sendBinary(hex("01 02 03"));
  e.ping(utf8("ping"));
  for (let i = 0; i < 40; i++) e.sendText(`small ${i} `.repeat(5)); // > 1 KiB in all
  e.sendText("é".repeat(1000)); // encoded into a worst-case slot
  e.sendBinary(new Uint8Array(70_000).map((_, i) => i & 0xff)); // large: its own chunk
  for (let i = 0; i < 2000; i++) e.sendBinary(new Uint8Array(40).fill(i & 0xff)); // > 64 KiB
  e.sendText("x".repeat(20_000)); // large text, encoded apart
  e.sendFrame(Opcode.Text, utf8("frag"), { fin: false });
  e.sendFrame(Opcode.Continuation, utf8("ment"));
  e.sendBinary(new Uint8Array(300_000).fill(0x5a));
  e.pong(utf8("pong"));
  e.close(1000, "bye");
}

Deno.test("engine: poolOutput() output is byte for byte the unpooled output, in pooled buffers", () => {
  for (const role of ROLES) {
    drainPool();
    const plain = engine(role).engine;
    const pool = pooled(role).engine;
    sendMix(plain);
    sendMix(pool);
    assert.equal(pool.bufferedAmount, plain.bufferedAmount, role);
    const expected = plain.takeOutput();
    const actual = pool.takeOutput();
    assert.deepEqual(actual.map((c) => c.length), expected.map((c) => c.length), role);
    for (const [i, chunk] of actual.entries()) {
      assertSameBytes(chunk, expected[i], `${role} chunk ${i}`);
      // Each chunk starts its own pooled buffer (so that it can be released).
      assert.equal(chunk.byteOffset, 0, `${role} chunk ${i} offset`);
      const size = chunk.buffer.byteLength - HEADROOM;
      assert.ok(size >= 1024 && (size & (size - 1)) === 0, `${role} chunk ${i}: ${size} bytes`);
      assert.ok(!actual.some((other, j) => j !== i && other.buffer === chunk.buffer));
    }
    // The large binary frame is a chunk of its own: 10-byte header (+4 masking key).
    const key = role === "client" ? 4 : 0;
    const large = actual.find((chunk) => chunk.length === 10 + key + 70_000);
    assert.ok(large, `${role}: no chunk of one 70,000-byte frame`);
    assert.equal(large.buffer.byteLength, 128 * 1024 + HEADROOM);
    // The bytes are right, not just the same as the unpooled engine's.
    const frames = parseFrames(actual);
    assert.equal(frames.length, 3 + 40 + 1 + 1 + 2000 + 1 + 2 + 1 + 1 + 1);
    assert.ok(frames.every((f) => (f.mask !== undefined) === (role === "client")));
    assertSameBytes(frames[44].payload, new Uint8Array(70_000).map((_, i) => i & 0xff), role);
    assertSameBytes(frames[45 + 1999].payload, new Uint8Array(40).fill(1999 & 0xff), role);
    assertSameBytes(frames[49 + 1999].payload, new Uint8Array(300_000).fill(0x5a), role);
    assert.equal(frames[46 + 1999].payload.length, 20_000);
    assert.deepEqual(frames.at(-1)?.payload, concatBytes(hex("03 e8"), utf8("bye")));
    assert.deepEqual(pool.takeOutput(), []);
    assert.equal(pool.bufferedAmount, 0);
  }
});

Deno.test("engine: releaseOutput() gives a pooled chunk back; a later takeOutput() reuses its buffer", () => {
  for (const role of ROLES) {
    drainPool();
    const { engine: e } = pooled(role);
    e.sendText("hello, world");
    const [first] = e.takeOutput();
    releaseOutput(first);
    e.sendText("bye");
    const [second] = e.takeOutput();
    assert.equal(second.buffer, first.buffer, `${role}: small chunk not reused`);
    // Exactly the new frame, no stale bytes from the first one.
    assert.deepEqual(parseFrames(second).map((f) => f.payload), [utf8("bye")]);
    assert.equal(second.length, role === "client" ? 2 + 4 + 3 : 2 + 3);

    // A large frame's buffer too, and the reused buffer holds the new frame only.
    e.sendBinary(new Uint8Array(70_000).fill(1));
    const [large] = e.takeOutput();
    releaseOutput(large);
    e.sendBinary(new Uint8Array(100_000).fill(2)); // same 128 KiB class
    const [larger] = e.takeOutput();
    assert.equal(larger.buffer, large.buffer, `${role}: large chunk not reused`);
    const [sent] = parseFrames(larger);
    assert.equal(sent.payload.length, 100_000);
    assert.ok(sent.payload.every((b) => b === 2), role);

    // The pool is shared: another engine's next chunk takes a released one.
    releaseOutput(second);
    const other = pooled(role).engine;
    other.sendText("other");
    assert.equal(other.takeOutput()[0].buffer, first.buffer, `${role}: not shared`);
  }
});

Deno.test("engine: without poolOutput(), chunks are fresh copies the engine never writes again", () => {
  for (const role of ROLES) {
    drainPool();
    const { engine: e } = engine(role);
    e.sendText("first");
    const [first] = e.takeOutput();
    const snapshot = first.slice();
    // Its own buffer of exactly its bytes, not a view of the engine's output buffer.
    assert.equal(first.buffer.byteLength, first.length);
    e.sendText("second, longer, rewrites the engine's output buffer");
    e.sendBinary(new Uint8Array(70_000).fill(9));
    const later = e.takeOutput();
    assert.deepEqual(first, snapshot, role);
    // The large frame too: a buffer of its own, of exactly its size, not a pooled one.
    assert.deepEqual(later.map((chunk) => chunk.buffer.byteLength), later.map((c) => c.length));
    assert.ok(later.every((chunk) => chunk.buffer !== first.buffer));
    assert.deepEqual(parseFrames(first).map((f) => f.payload), [utf8("first")]);
  }
});

Deno.test("engine: with poolOutput(), a chunk not released is never written again", () => {
  for (const role of ROLES) {
    drainPool();
    const { engine: e } = pooled(role);
    e.sendText("kept");
    e.sendBinary(new Uint8Array(70_000).fill(3));
    const kept = e.takeOutput();
    const snapshot = kept.map((chunk) => chunk.slice());
    const keptBuffers = new Set(kept.map((chunk) => chunk.buffer));
    // More output, growing the output buffer (which gives the old one back)
    // and releasing every later chunk, so the pool has buffers to hand out.
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 100; i++) e.sendText(`round ${round} frame ${i}`);
      e.sendBinary(new Uint8Array(70_000).fill(4 + round));
      for (const chunk of e.takeOutput()) {
        assert.ok(!keptBuffers.has(chunk.buffer), `${role}: a kept buffer was handed out again`);
        releaseOutput(chunk);
      }
    }
    for (const [i, chunk] of kept.entries()) assertSameBytes(chunk, snapshot[i], `${role} ${i}`);
  }
});

Deno.test("RFC 6455 §5.3: a pooled client's masked frames round-trip through a pooled server", () => {
  drainPool();
  const client = pooled("client", { random: (bytes) => crypto.getRandomValues(bytes) });
  const server = pooled("server");
  /** Moves one side's output to the other, releasing each chunk once fed (feed copies). */
  const pump = (from: WebSocketEngine, to: WebSocketEngine): void => {
    for (const chunk of from.takeOutput()) {
      feed(to, chunk);
      releaseOutput(chunk);
    }
  };
  const large = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff);
  for (let round = 0; round < 3; round++) {
    client.engine.sendText(`hello ${round}`);
    client.engine.sendBinary(large);
    client.engine.ping(utf8(`p${round}`));
    client.engine.sendText("ü".repeat(10_000));
    pump(client.engine, server.engine);
    server.engine.sendText(`reply ${round}`);
    pump(server.engine, client.engine); // the Pong and the reply
  }
  client.engine.close(1000, "done");
  pump(client.engine, server.engine);
  pump(server.engine, client.engine);
  const expected: EngineEvent[] = [];
  const replies: EngineEvent[] = [];
  for (let round = 0; round < 3; round++) {
    expected.push(
      { type: "text", data: `hello ${round}` },
      { type: "binary", data: [large.length] },
      { type: "ping", data: [...utf8(`p${round}`)] },
      { type: "text", data: "ü".repeat(10_000) },
    );
    // The Pong was queued on receipt, before the reply.
    replies.push({ type: "pong", data: [...utf8(`p${round}`)] }, {
      type: "text",
      data: `reply ${round}`,
    });
  }
  // Binary payloads are checked byte by byte, then stand in the log as their length.
  const binaries = server.events.filter((event) => event.type === "binary");
  assert.equal(binaries.length, 3);
  for (const event of binaries) {
    assertSameBytes(new Uint8Array(event.data), large, "binary message");
    event.data = [event.data.length];
  }
  assert.deepEqual(server.events, [
    ...expected,
    { type: "close", closeCode: 1000, reason: "done", wasClean: true },
  ]);
  assert.deepEqual(client.events, [
    ...replies,
    { type: "close", closeCode: 1000, reason: "done", wasClean: true },
  ]);
  assert.equal(server.errors.length + client.errors.length, 0);
});

// ---------------------------------------------------------------------------
// Reused receive buffers (reuseMessageBuffers, and large text always)

interface Delivery {
  /** The bytes as they were during the call. */
  bytes: Uint8Array;
  borrowed: boolean | undefined;
  /** The handler's view, as it is after the call. */
  view: Uint8Array;
  /** Where the view started in its buffer during the call. */
  byteOffset: number;
}

/** A server engine whose handler notes each binary message, and the text ones. */
function deliveries(options: Partial<EngineOptions> = {}) {
  const binaries: Delivery[] = [];
  const texts: string[] = [];
  const engine = new WebSocketEngine({ role: "server", ...options }, {
    text: (data) => texts.push(data),
    binary: (view, borrowed) =>
      binaries.push({ bytes: view.slice(), borrowed, view, byteOffset: view.byteOffset }),
    close: () => {},
  });
  return { engine, binaries, texts };
}

/** `count` distinct payloads of `size` bytes. */
function payloads(count: number, size: number): Uint8Array[] {
  return Array.from(
    { length: count },
    (_, n) => new Uint8Array(size).map((_, i) => (i * 7 + n) & 0xff),
  );
}

/** Feeds each frame in two chunks, cut mid-payload, so the engine assembles it in a buffer. */
function feedCut(engine: WebSocketEngine, frames: Uint8Array[]): void {
  for (const bytes of frames) feed(engine, bytes, [bytes.length >> 1]);
}

Deno.test("engine: reuseMessageBuffers lends large binary messages for the handler's call only", () => {
  drainPool();
  const { engine, binaries } = deliveries({ reuseMessageBuffers: true });
  const sent = payloads(3, REUSE_MIN + 100);
  feedCut(engine, sent.map((payload) => peer("server", Opcode.Binary, payload)));
  assert.equal(binaries.length, 3);
  binaries.forEach(({ bytes, borrowed, view, byteOffset }, i) => {
    assertSameBytes(bytes, sent[i], `message ${i}`);
    assert.equal(borrowed, true, `message ${i} is lent`);
    assert.equal(byteOffset, LENT_HEADROOM, `message ${i} has room for a frame header before it`);
    // Every runtime here detaches it (transfer, or structuredClone on Node 20).
    assert.equal(view.byteLength, 0, `message ${i}'s view is detached after the call`);
  });
});

Deno.test("engine: without reuseMessageBuffers binary messages are the handler's to keep", () => {
  const { engine, binaries } = deliveries();
  const sent = payloads(3, REUSE_MIN + 100);
  feedCut(engine, sent.map((payload) => peer("server", Opcode.Binary, payload)));
  binaries.forEach(({ borrowed, view }, i) => {
    assert.equal(borrowed, undefined);
    assertSameBytes(view, sent[i], `message ${i}, after the call`);
  });
});

for (const staged of [true, false]) {
  Deno.test(`engine: large binary messages ${staged ? "staged in the pool (Bun's default)" : "received into buffers of their own (V8's default)"} are the handler's to keep`, () => {
    const before = _stageLargeBinary(staged);
    try {
      drainPool();
      const { engine, binaries } = deliveries();
      // At and over 256 KiB: a fragmented one, then whole ones assembled from 2
      // chunks once complete and from 40 as they come (more than the engine holds
      // unassembled).
      const size = 256 * 1024;
      const [first, second, cut, trickled] = payloads(4, size + 100);
      feedCut(engine, [peer("server", Opcode.Binary, first, { fin: false })]);
      // Fragments are assembled in pool buffers, held until the message is joined
      // (copied once, not twice): the pool cannot hand that buffer out meanwhile.
      const probe = takeBuffer(size + 100);
      assert.equal(
        probe.every((byte, i) => byte === first[i]),
        false,
        "a held fragment's buffer is not handed out",
      );
      giveBack(probe);
      feedCut(engine, [peer("server", Opcode.Continuation, second)]);
      // Joined, both went back, the last fragment's on top.
      const last = takeBuffer(size + 100);
      assertSameBytes(last, second, "the pool's buffer held the last fragment");
      giveBack(last);
      feedCut(engine, [peer("server", Opcode.Binary, cut)]);
      const frame = peer("server", Opcode.Binary, trickled);
      feed(
        engine,
        frame,
        Array.from({ length: 39 }, (_, i) => Math.floor((i + 1) * frame.length / 40)),
      );
      const expected = [concatBytes(first, second), cut, trickled];
      assert.equal(binaries.length, 3);
      binaries.forEach(({ borrowed, view }, i) => {
        assert.equal(borrowed, undefined, `message ${i} is not lent`);
        assert.equal(view.byteOffset, 0, `message ${i} starts its buffer`);
        assert.equal(view.buffer.byteLength, view.length, `message ${i} is its buffer, whole`);
        assertSameBytes(view, expected[i], `message ${i}, after every message`);
      });
      // Staged, the last whole payload was assembled in a pool buffer, which went
      // back with its bytes in it; else the pool's top buffer is the fragment's.
      const idle = takeBuffer(size + 100);
      assert.equal(
        idle.every((byte, i) => byte === trickled[i]),
        staged,
        staged ? "the pool's buffer held the last payload" : "whole messages bypassed the pool",
      );
    } finally {
      _stageLargeBinary(before);
      drainPool();
    }
  });
}

for (const staged of [true, false]) {
  Deno.test(`engine: a large fragment goes back to the pool when the connection closes mid-message${staged ? " (staging on)" : ""}`, () => {
    const before = _stageLargeBinary(staged);
    try {
      drainPool();
      let closed = false;
      const engine = new WebSocketEngine({ role: "server" }, {
        text: () => {},
        binary: () => assert.fail("the message never completes"),
        close: () => closed = true,
      });
      const [first] = payloads(1, 256 * 1024 + 100);
      feedCut(engine, [peer("server", Opcode.Binary, first, { fin: false })]);
      feed(engine, peer("server", Opcode.Close, closePayload(1001)));
      assert.equal(closed, true);
      const idle = takeBuffer(first.length);
      assert.ok(idle.every((byte, i) => byte === first[i]), "the fragment's buffer is idle again");
    } finally {
      _stageLargeBinary(before);
      drainPool();
    }
  });
}

Deno.test("engine: reuseMessageBuffers lends neither small nor fragmented binary messages", () => {
  const { engine, binaries } = deliveries({ reuseMessageBuffers: true });
  const [small] = payloads(1, REUSE_MIN - 1);
  const [first, second] = payloads(2, REUSE_MIN + 1);
  feedCut(engine, [
    peer("server", Opcode.Binary, small),
    peer("server", Opcode.Binary, first, { fin: false }),
    peer("server", Opcode.Continuation, second),
  ]);
  assert.equal(binaries.length, 2);
  assert.equal(binaries[0].borrowed, undefined);
  assertSameBytes(binaries[0].view, small, "small, after the call");
  assert.equal(binaries[1].borrowed, undefined);
  assertSameBytes(binaries[1].view, concatBytes(first, second), "fragmented, after the call");
});

Deno.test("engine: large text messages decode right through reused buffers, whole and fragmented", () => {
  for (const reuseMessageBuffers of [false, true]) {
    drainPool();
    const { engine, texts } = deliveries({ reuseMessageBuffers });
    const expected: string[] = [];
    const frames: Uint8Array[] = [];
    for (let n = 0; n < 3; n++) {
      const whole = `${n}:` + "é€x".repeat(REUSE_MIN / 2);
      expected.push(whole);
      frames.push(peer("server", Opcode.Text, whole));
      // Fragments cut inside a multi-byte character: the decoder carries it across.
      const bytes = utf8(`${n}/` + "€".repeat(REUSE_MIN));
      const cut = REUSE_MIN * 2 + 1;
      expected.push(new TextDecoder().decode(bytes));
      frames.push(
        peer("server", Opcode.Text, bytes.subarray(0, cut), { fin: false }),
        peer("server", Opcode.Continuation, bytes.subarray(cut)),
      );
    }
    feedCut(engine, frames);
    assert.deepEqual(texts, expected, `reuseMessageBuffers: ${reuseMessageBuffers}`);
  }
});

// ---------------------------------------------------------------------------
// Owned payloads (send with `transfer`)

Deno.test("engine: an owned payload of OWNED_MIN bytes or more goes out as it is, behind its header", () => {
  for (const role of ROLES) {
    const { engine: e } = engine(role);
    e.open();
    e.sendText("before");
    const [payload] = payloads(1, OWNED_MIN);
    const expected = payload.slice();
    e.sendBinary(payload, true);
    // "before": 2 + 6 bytes (and a client's mask key), then the payload's frame.
    const text = role === "client" ? 12 : 8;
    const header = frameHeaderLength(OWNED_MIN, role === "client");
    assert.equal(e.bufferedAmount, text + header + OWNED_MIN);
    e.sendText("after");
    const out = e.takeOutput();
    // The small frames and the header in one chunk, the payload itself, the next frame.
    assert.equal(out.length, 3, role);
    assert.equal(out[1], payload, `${role}: the payload is not copied`);
    const frames = parseFrames(out);
    assert.deepEqual(frames.map((f) => f.opcode), [Opcode.Text, Opcode.Binary, Opcode.Text]);
    assert.equal(frames[1].mask !== undefined, role === "client", `${role}: masked as a client`);
    assertSameBytes(frames[1].payload, expected, `${role}: the payload on the wire`);
    assert.equal(new TextDecoder().decode(frames[2].payload), "after");
  }
});

Deno.test("engine: an owned payload under OWNED_MIN, or one not owned, is copied behind its header", () => {
  for (const [size, owned] of [[OWNED_MIN - 1, true], [OWNED_MIN, false]] as const) {
    const { engine: e } = engine("server");
    e.open();
    const [payload] = payloads(1, size);
    e.sendBinary(payload, owned);
    payload.fill(0); // the caller's later changes do not reach the frame
    const out = e.takeOutput();
    assert.equal(out.length, 1, `${size} bytes, owned: ${owned}`);
    assertSameBytes(parseFrames(out)[0].payload, payloads(1, size)[0], `${size}, ${owned}`);
  }
});

Deno.test("engine: sendFrame with owned writes the payload as it is, as a fragment too", () => {
  const { engine: e } = engine("server");
  e.open();
  const [first, second] = payloads(2, OWNED_MIN + 3);
  e.sendFrame(Opcode.Binary, first, { fin: false, owned: true });
  e.sendFrame(Opcode.Continuation, second, { owned: true });
  const out = e.takeOutput();
  assert.equal(out.length, 4);
  assert.equal(out[1], first);
  assert.equal(out[3], second);
  const frames = parseFrames(out);
  assert.deepEqual(frames.map((f) => [f.opcode, f.fin]), [
    [Opcode.Binary, false],
    [Opcode.Continuation, true],
  ]);
});

Deno.test("engine: a large owned payload with room before it goes out from its own memory, its header in that room", () => {
  for (const role of ROLES) {
    drainPool();
    const { engine: e } = engine(role);
    e.poolOutput();
    e.open();
    e.sendText("before");
    // A buffer the pool lent (reuseMessageBuffers), sent on with transfer.
    const size = 64 * 1024;
    const lent = takeBuffer(size, HEADROOM);
    lent.set(payloads(1, size)[0]);
    const moved = transferBuffer(lent)!;
    e.sendBinary(moved, true);
    e.sendText("after");
    const out = e.takeOutput();
    const header = frameHeaderLength(size, role === "client");
    // The first text frame, the frame in the payload's buffer, the next text frame.
    assert.equal(out.length, 3, role);
    assert.equal(out[1].buffer, moved.buffer, `${role}: the frame is in the payload's memory`);
    assert.equal(out[1].byteOffset, HEADROOM - header, `${role}: its header right before it`);
    assert.equal(out[1].length, header + size);
    const frames = parseFrames(out);
    assert.deepEqual(frames.map((f) => f.opcode), [Opcode.Text, Opcode.Binary, Opcode.Text]);
    assert.equal(frames[1].mask !== undefined, role === "client", `${role}: masked as a client`);
    assertSameBytes(frames[1].payload, payloads(1, size)[0], `${role}: the payload on the wire`);
    // Written, the buffer goes back to the pool.
    for (const chunk of out) releaseOutput(chunk);
    assert.equal(takeBuffer(size, HEADROOM).buffer, moved.buffer, `${role}: pooled again`);
  }
});

Deno.test("engine: an owned payload with room before it that fits an output chunk is copied into it", () => {
  const { engine: e } = engine("server");
  e.poolOutput();
  e.open();
  const moved = transferBuffer(takeBuffer(1000, HEADROOM).fill(3))!;
  e.sendText("before");
  e.sendBinary(moved, true);
  const out = e.takeOutput();
  assert.equal(out.length, 1, "coalesced with the text frame");
  assert.notEqual(out[0].buffer, moved.buffer);
  assertSameBytes(parseFrames(out)[1].payload, new Uint8Array(1000).fill(3), "the payload");
});

Deno.test("engine: an owned payload that the pool lent returns to the pool after its write or copy", () => {
  drainPool();
  // A lent buffer sent on with transfer (what EdgeSocket.send does with it).
  const lent = takeBuffer(OWNED_MIN);
  lent.fill(7);
  const moved = transferBuffer(lent)!;
  const { engine: pooled } = engine("server");
  pooled.poolOutput();
  pooled.open();
  pooled.sendBinary(moved, true);
  const out = pooled.takeOutput();
  assert.equal(out[1], moved);
  for (const chunk of out) releaseOutput(chunk);
  assert.equal(takeBuffer(OWNED_MIN).buffer, moved.buffer, "the pool hands it out again");
  // Without the pool the transport may hold it after its write: it is not taken back.
  const other = transferBuffer(takeBuffer(OWNED_MIN))!;
  const { engine: plain } = engine("server");
  plain.open();
  plain.sendBinary(other, true);
  for (const chunk of plain.takeOutput()) releaseOutput(chunk);
  assert.notEqual(takeBuffer(OWNED_MIN).buffer, other.buffer);
  // Under OWNED_MIN it is copied, and back in the pool at once, whatever the transport.
  const small = transferBuffer(takeBuffer(64 * 1024))!;
  plain.sendBinary(small, true);
  assert.equal(takeBuffer(64 * 1024).buffer, small.buffer);
  assert.equal(parseFrames(plain.takeOutput())[0].payload.length, 64 * 1024);
});
