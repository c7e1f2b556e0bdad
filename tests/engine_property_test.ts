import assert from "node:assert/strict";
import fc from "fast-check";
import { _stageLargeBinary, ReadyState, WebSocketEngine } from "../src/engine.ts";
import { WebSocketError } from "../src/errors.ts";
import { Opcode } from "../src/frame.ts";
import {
  assertSameBytes,
  concatBytes,
  documentedErrorCodes,
  drainPool,
  feed,
  fixedKey,
  frame,
  parseFrames,
  record,
  type Recorder,
  RFC_KEY,
} from "./_fixtures.ts";

const CODES = await documentedErrorCodes();
const PROTOCOL_CLOSE_CODES = new Set([1002, 1007, 1009]);
const ROLE = fc.constantFrom("client" as const, "server" as const);
const RUNS = { numRuns: 400 };

/** Small limits so that limit paths are reachable with small inputs. */
const LIMITS = fc.record({
  maxFrameSize: fc.constantFrom(undefined, 0, 16, 200),
  maxMessageSize: fc.constantFrom(undefined, 8, 300),
  maxFragments: fc.constantFrom(undefined, 1, 3),
  compression: fc.boolean(),
});

/** Cut points for an input of `length` bytes. */
function cutsFor(length: number): fc.Arbitrary<number[]> {
  return fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 12 })
    .map((cuts) => cuts.sort((a, b) => a - b));
}

/** One frame-shaped chunk: a mostly plausible header (sometimes invalid) and a payload. */
const FRAME_SHAPED = fc.record({
  fin: fc.integer({ min: 0, max: 2 }).map((n) => n !== 0),
  rsv1: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  rsv2: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  rsv3: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  opcode: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(0, 0, 0, 1, 2, 8, 9, 10) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
  ),
  masked: fc.oneof(
    { weight: 6, arbitrary: fc.constant("right") },
    { weight: 1, arbitrary: fc.constant("wrong") },
  ),
  payload: fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 20 }) },
    {
      weight: 2,
      arbitrary: fc.string({ unit: "grapheme", maxLength: 10 }).map((s) =>
        new TextEncoder().encode(s)
      ),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 300 }) },
    // Close payloads: a code and a short reason.
    {
      weight: 2,
      arbitrary: fc.tuple(fc.integer({ min: 0, max: 5100 }), fc.uint8Array({ maxLength: 4 })).map((
        [code, reason],
      ) => concatBytes(new Uint8Array([code >> 8, code & 0xff]), reason)),
    },
  ),
  truncate: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
});

type Shaped = typeof FRAME_SHAPED extends fc.Arbitrary<infer T> ? T : never;

/** Raw bytes between frames: junk, or a 64-bit length header with odd high bits. */
const RAW = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 6 }),
  fc.tuple(fc.constantFrom(0x82, 0x02, 0x81, 0x80), fc.uint8Array({ minLength: 8, maxLength: 8 }))
    .map(([b0, length]) => new Uint8Array([b0, 0x7f, ...length])),
);

const ITEM = fc.oneof(
  { weight: 12, arbitrary: FRAME_SHAPED },
  { weight: 1, arbitrary: RAW.map((raw) => ({ raw })) },
);

function buildShaped(
  role: "client" | "server",
  items: (Shaped | { raw: Uint8Array })[],
): Uint8Array {
  const parts = items.map((f) => {
    if ("raw" in f) {
      // A masked peer sets the mask bit (and the key follows the length).
      const raw = f.raw.slice();
      if (role === "server" && raw.length >= 2) raw[1] |= 0x80;
      return raw;
    }
    const maskedForServer = f.masked === "right" ? role === "server" : role !== "server";
    const bytes = frame(f.opcode, f.payload, {
      fin: f.fin,
      rsv1: f.rsv1,
      rsv2: f.rsv2,
      rsv3: f.rsv3,
      key: maskedForServer ? RFC_KEY : undefined,
    });
    return f.truncate ? bytes.subarray(0, bytes.length >> 1) : bytes;
  });
  return concatBytes(...parts);
}

/** The invariants every run must satisfy, whatever the input. */
function checkInvariants(recorder: Recorder, role: "client" | "server"): void {
  const { engine, errors, closes, events } = recorder;
  // Only documented codes, with a protocol close code.
  assert.ok(errors.length <= 1, "at most one error");
  for (const error of errors) {
    assert.ok(error instanceof WebSocketError);
    assert.ok(CODES.has(error.code), `undocumented code ${error.code}`);
    assert.ok(PROTOCOL_CLOSE_CODES.has(error.closeCode), `${error.code} has ${error.closeCode}`);
  }
  // A consistent end state.
  assert.ok(closes.length <= 1, "close reported at most once");
  if (errors.length === 1) {
    assert.equal(engine.state, ReadyState.CLOSED);
    assert.deepEqual(closes, [{ closeCode: 1006, reason: "", wasClean: false }]);
    const last = events.at(-1);
    assert.equal(last?.type, "close");
    assert.equal(events.at(-2)?.type, "error");
  } else if (closes.length === 1) {
    assert.equal(engine.state, ReadyState.CLOSED);
    assert.equal(closes[0].wasClean, true);
  } else {
    assert.equal(engine.state, ReadyState.OPEN);
  }
  const stillOpen = engine.state === ReadyState.OPEN;
  // Output is well-formed frames; a failure or a close ends with exactly one Close.
  const output = parseFrames(engine.takeOutput());
  const closeFrames = output.filter((f) => f.opcode === Opcode.Close);
  assert.equal(closeFrames.length, closes.length, "one Close out per close");
  if (closeFrames.length === 1) assert.equal(output.at(-1)!.opcode, Opcode.Close);
  for (const f of output) {
    assert.ok(
      [Opcode.Pong, Opcode.Close].includes(f.opcode as 0xa | 0x8),
      "only Pong/Close are automatic",
    );
    assert.equal(f.mask !== undefined, role === "client", "clients mask, servers do not");
  }
  // An engine still open can still send; a closed one refuses.
  if (stillOpen) {
    engine.sendText("still usable");
    assert.equal(parseFrames(engine.takeOutput()).length, 1);
  } else {
    assert.throws(() => engine.sendText("x"), { code: "WS_ERR_NOT_OPEN" });
  }
}

function run(
  role: "client" | "server",
  input: Uint8Array,
  cuts: number[],
  limits: object,
): Recorder {
  const recorder = record({ role, random: fixedKey(RFC_KEY), ...limits });
  // No exception escapes receive().
  feed(recorder.engine, input, cuts);
  return recorder;
}

Deno.test("property: random bytes, split anywhere, give only documented errors", () => {
  fc.assert(
    fc.property(
      ROLE,
      fc.uint8Array({ maxLength: 600 }).chain((input) =>
        fc.tuple(fc.constant(input), cutsFor(input.length))
      ),
      LIMITS,
      (role, [input, cuts], limits) => {
        const recorder = run(role, input, cuts, limits);
        checkInvariants(recorder, role);
        // The same input whole gives the same events.
        const whole = run(role, input, [], limits);
        assert.deepEqual(whole.events, recorder.events);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("property: frame-shaped streams, split anywhere, give only documented errors", () => {
  fc.assert(
    fc.property(
      ROLE,
      fc.array(ITEM, { maxLength: 12 }),
      LIMITS,
      fc.integer({ min: 0, max: 1000 }),
      (role, frames, limits, seed) => {
        const input = buildShaped(role, frames);
        // Cuts derived from the seed, so that every input length gets some.
        const cuts: number[] = [];
        for (let at = 1 + (seed % 7); at < input.length; at += 1 + ((seed * 31 + at) % 23)) {
          cuts.push(at);
        }
        const recorder = run(role, input, cuts, limits);
        checkInvariants(recorder, role);
        const whole = run(role, input, [], limits);
        assert.deepEqual(whole.events, recorder.events);
        const byteByByte = run(
          role,
          input,
          Array.from({ length: input.length }, (_, i) => i + 1),
          limits,
        );
        assert.deepEqual(byteByByte.events, recorder.events);
      },
    ),
    RUNS,
  );
});

/** A message to send: text (including astral characters) or binary. */
const MESSAGE = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }).map((text) => ({ text })),
  fc.string({ unit: "grapheme", maxLength: 60 }).map((text) => ({ text })),
  fc.uint8Array({ maxLength: 400 }).map((bytes) => ({ bytes })),
);

Deno.test("property: client → server and server → client round trip with random fragmentation", () => {
  fc.assert(
    fc.property(
      ROLE,
      fc.array(fc.tuple(MESSAGE, fc.array(fc.nat(), { maxLength: 4 })), { maxLength: 10 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (sender, messages, cutSeeds) => {
        const receiverRole = sender === "client" ? "server" : "client";
        let counter = 0;
        const out = record({ role: sender, random: (b) => b.fill(++counter & 0xff) });
        const expected: unknown[] = [];
        for (const [message, splitSeeds] of messages) {
          const data = "text" in message ? new TextEncoder().encode(message.text) : message.bytes;
          // Fragment at seeded offsets (possibly empty fragments).
          const points = [...new Set(splitSeeds.map((s) => s % (data.length + 1)))].sort((a, b) =>
            a - b
          );
          const pieces: Uint8Array[] = [];
          let start = 0;
          for (const p of points) {
            pieces.push(data.subarray(start, p));
            start = p;
          }
          pieces.push(data.subarray(start));
          pieces.forEach((piece, i) => {
            const opcode = i === 0
              ? ("text" in message ? Opcode.Text : Opcode.Binary)
              : Opcode.Continuation;
            out.engine.sendFrame(opcode, piece, { fin: i === pieces.length - 1 });
          });
          expected.push(
            "text" in message
              ? { type: "text", data: new TextDecoder().decode(data) }
              : { type: "binary", data: [...data] },
          );
        }
        const wire = concatBytes(...out.engine.takeOutput());
        const cuts = [...new Set(cutSeeds.map((s) => s % (wire.length + 1)))].sort((a, b) => a - b);
        const receiver = record({ role: receiverRole });
        feed(receiver.engine, wire, cuts);
        assert.deepEqual(receiver.events, expected);
        assert.equal(receiver.engine.state, ReadyState.OPEN);
      },
    ),
    RUNS,
  );
});

Deno.test("property: sendText/sendBinary round trip, then a clean close", () => {
  fc.assert(
    fc.property(ROLE, fc.array(MESSAGE, { maxLength: 8 }), (sender, messages) => {
      const a = record({ role: sender });
      const b = record({ role: sender === "client" ? "server" : "client" });
      for (const m of messages) {
        if ("text" in m) a.engine.sendText(m.text);
        else a.engine.sendBinary(m.bytes);
      }
      a.engine.close(1000, "done");
      feed(b.engine, concatBytes(...a.engine.takeOutput()));
      const expected = messages.map((m) =>
        "text" in m
          ? { type: "text", data: new TextDecoder().decode(new TextEncoder().encode(m.text)) }
          : { type: "binary", data: [...m.bytes] }
      );
      assert.deepEqual(b.events, [...expected, {
        type: "close",
        closeCode: 1000,
        reason: "done",
        wasClean: true,
      }]);
      feed(a.engine, concatBytes(...b.engine.takeOutput()));
      assert.equal(a.engine.state, ReadyState.CLOSED);
      assert.deepEqual(a.closes, [{ closeCode: 1000, reason: "done", wasClean: true }]);
    }),
    RUNS,
  );
});

/**
 * A message large enough for the pool's paths: small (a view of the read
 * chunk or a fresh buffer), 16–70 KiB (pooled text, lent binary, pooled
 * fragments) or 256–300 KiB (staged binary). Bytes come from a seed: the
 * generator stays cheap at these sizes. Text is printable ASCII.
 */
const LARGE_MESSAGE = fc.record({
  text: fc.boolean(),
  size: fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 300 }) },
    { weight: 2, arbitrary: fc.integer({ min: 16 * 1024, max: 70 * 1024 }) },
    { weight: 2, arbitrary: fc.integer({ min: 256 * 1024, max: 300 * 1024 }) },
  ),
  seed: fc.integer({ min: 0, max: 255 }),
  // Fragment offsets, as fractions of the size; none (unfragmented) more often.
  splits: fc.oneof(
    { weight: 3, arbitrary: fc.constant<number[]>([]) },
    {
      weight: 1,
      arbitrary: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }),
    },
    // Equal fragments: each can land in the buffer the one before it had.
    {
      weight: 1,
      arbitrary: fc.integer({ min: 2, max: 4 }).map((k) =>
        Array.from({ length: k - 1 }, (_, i) => (i + 1) / k)
      ),
    },
  ),
});

Deno.test("property: large messages through the pool stay intact, kept ones after later ones too", () => {
  const stagedBefore = _stageLargeBinary();
  try {
    fc.assert(
      fc.property(
        fc.array(LARGE_MESSAGE, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(4096, 65536, 200_000),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        (messages, reuseMessageBuffers, staged, readSize, cutPoints) => {
          _stageLargeBinary(staged);
          const sender = record({ role: "client", random: (b) => b.fill(0x5a) });
          const sent = messages.map(({ text, size, seed, splits }) => {
            const data = new Uint8Array(size).map((_, i) =>
              text ? 0x20 + ((i * 7 + seed) % 95) : (i * 31 + seed) & 0xff
            );
            const points = [...new Set(splits.map((s) => Math.floor(s * size)))].sort((a, b) =>
              a - b
            );
            let start = 0;
            const pieces = [...points, size].map((end) => {
              const piece = data.subarray(start, Math.max(start, end));
              start = Math.max(start, end);
              return piece;
            });
            pieces.forEach((piece, i) => {
              const opcode = i > 0 ? Opcode.Continuation : text ? Opcode.Text : Opcode.Binary;
              sender.engine.sendFrame(opcode, piece, { fin: i === pieces.length - 1 });
            });
            return { text, data };
          });
          const wire = concatBytes(...sender.engine.takeOutput());
          // Kept binary messages: the handler's own buffers, checked again at the end.
          const kept: { view: Uint8Array; index: number }[] = [];
          let index = 0;
          const receiver = new WebSocketEngine({ role: "server", reuseMessageBuffers }, {
            text: (data) => {
              assert.equal(data, new TextDecoder().decode(sent[index].data), `message ${index}`);
              index++;
            },
            binary: (view, borrowed) => {
              assertSameBytes(view, sent[index].data, `message ${index}, as delivered`);
              if (!borrowed) kept.push({ view, index });
              index++;
            },
            close: () => assert.fail("no close expected"),
          });
          // Reads of a socket's size (so that large payloads span reads and are
          // assembled), cut again at random points.
          const reads = Array.from(
            { length: Math.floor(wire.length / readSize) },
            (_, i) => (i + 1) * readSize,
          );
          const cuts = [
            ...new Set([...reads, ...cutPoints.map((c) => Math.floor(c * wire.length))]),
          ]
            .sort((a, b) => a - b);
          feed(receiver, wire, cuts);
          assert.equal(index, sent.length);
          for (const { view, index } of kept) {
            assertSameBytes(view, sent[index].data, `message ${index}, after every message`);
          }
        },
      ),
      { numRuns: 150 },
    );
  } finally {
    _stageLargeBinary(stagedBefore);
    drainPool();
  }
});
