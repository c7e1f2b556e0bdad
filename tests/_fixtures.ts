/**
 * Shared helpers for the codec, engine and socket tests: hex wire fixtures,
 * an event-recording engine, split feeding, output parsing and the
 * "assert connection failing with code N" check.
 *
 * @module
 */

import assert from "node:assert/strict";
import { decodeClosePayload } from "../src/close.ts";
import { type CloseInfo, type EngineOptions, ReadyState, WebSocketEngine } from "../src/engine.ts";
import { WebSocketError, type WebSocketErrorCode } from "../src/errors.ts";
import { decodeFrameHeader, Opcode } from "../src/frame.ts";
import { _maskBytewise } from "../src/mask.ts";
import { configureOutputPool } from "../src/_pool.ts";

/**
 * Parses a hex fixture such as `"81 05 48 65 6c 6c 6f"` (whitespace ignored).
 *
 * @param text Hex digits, optionally separated by whitespace.
 * @returns The bytes.
 */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  if (digits.length % 2 !== 0 || /[^0-9a-f]/i.test(digits)) {
    throw new TypeError(`Bad hex fixture: ${text}`);
  }
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Formats bytes as a spaced lowercase hex string (the inverse of {@linkcode hex}).
 *
 * @param bytes The bytes.
 * @returns e.g. `"81 05 48 65 6c 6c 6f"`.
 */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** UTF-8 encodes a string. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** What a recording handler saw, in order. */
export type EngineEvent =
  | { type: "text"; data: string }
  | { type: "binary"; data: number[] }
  | { type: "compressed"; opcode: number; data: number[] }
  | { type: "ping"; data: number[] }
  | { type: "pong"; data: number[] }
  | { type: "error"; code: WebSocketErrorCode; closeCode: number }
  | { type: "close"; closeCode: number; reason: string; wasClean: boolean };

/** An engine with a handler that records every callback. */
export interface Recorder {
  /** The engine. */
  engine: WebSocketEngine;
  /** Every callback, in order (payloads copied to plain arrays). */
  events: EngineEvent[];
  /** The error objects reported, in order. */
  errors: WebSocketError[];
  /** The close infos reported (must be at most one). */
  closes: CloseInfo[];
}

/**
 * Creates an engine whose handler records everything.
 *
 * @param options Engine options; `role` is required.
 * @returns The engine and its event log.
 */
export function record(options: EngineOptions): Recorder {
  const events: EngineEvent[] = [];
  const errors: WebSocketError[] = [];
  const closes: CloseInfo[] = [];
  const engine = new WebSocketEngine(options, {
    text: (data) => events.push({ type: "text", data }),
    binary: (data) => events.push({ type: "binary", data: [...data] }),
    compressed: (opcode, data) => events.push({ type: "compressed", opcode, data: [...data] }),
    ping: (data) => events.push({ type: "ping", data: [...data] }),
    pong: (data) => events.push({ type: "pong", data: [...data] }),
    error: (error) => {
      errors.push(error);
      events.push({ type: "error", code: error.code, closeCode: error.closeCode });
    },
    close: (info) => {
      closes.push(info);
      events.push({ type: "close", ...info });
    },
  });
  return { engine, events, errors, closes };
}

/**
 * Feeds `bytes` to `engine` cut at the given offsets, each piece a fresh
 * copy (`receive` takes ownership and unmasks in place).
 *
 * @param engine The engine.
 * @param bytes The whole input; never modified.
 * @param cuts Ascending offsets where to cut.
 */
export function feed(engine: WebSocketEngine, bytes: Uint8Array, cuts: number[] = []): void {
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut > start) engine.receive(bytes.slice(start, cut));
    start = Math.max(start, cut);
  }
}

/** Every way of feeding `length` bytes used by the split tests: whole, cut at each offset, byte by byte. */
export function splits(length: number): { name: string; cuts: number[] }[] {
  const out = [{ name: "whole", cuts: [] as number[] }];
  for (let i = 1; i < length; i++) out.push({ name: `split at ${i}`, cuts: [i] });
  out.push({ name: "byte by byte", cuts: Array.from({ length }, (_, i) => i + 1) });
  return out;
}

/** A decoded frame from engine output. */
export interface WireFrame {
  /** FIN bit. */
  fin: boolean;
  /** RSV1 bit. */
  rsv1: boolean;
  /** Opcode. */
  opcode: number;
  /** Masking key, if masked. */
  mask: Uint8Array | undefined;
  /** Unmasked payload. */
  payload: Uint8Array;
}

/**
 * Parses a byte stream of whole frames (engine output) with `decodeFrameHeader`.
 *
 * @param bytes The output, one buffer or several.
 * @returns The frames, payloads unmasked.
 */
export function parseFrames(bytes: Uint8Array | Uint8Array[]): WireFrame[] {
  const all = Array.isArray(bytes) ? concatBytes(...bytes) : bytes;
  const frames: WireFrame[] = [];
  let at = 0;
  while (at < all.length) {
    const header = decodeFrameHeader(all, at);
    assert.ok(header, `truncated frame header at ${at}`);
    const start = at + header.headerLength;
    const end = start + header.payloadLength;
    assert.ok(end <= all.length, `truncated frame payload at ${at}`);
    const payload = all.slice(start, end);
    if (header.mask) _maskBytewise(payload, header.mask);
    frames.push({
      fin: header.fin,
      rsv1: header.rsv1,
      opcode: header.opcode,
      mask: header.mask,
      payload,
    });
    at = end;
  }
  return frames;
}

/** The `WS_ERR_*` codes documented in the union of src/errors.ts, read from the source. */
export async function documentedErrorCodes(): Promise<Set<string>> {
  const source = await Deno.readTextFile(new URL("../src/errors.ts", import.meta.url));
  const union = source.slice(source.indexOf("export type WebSocketErrorCode"));
  const body = union.slice(0, union.indexOf(";"));
  const codes = new Set([...body.matchAll(/"(WS_ERR_[A-Z0-9_]+)"/g)].map((m) => m[1]));
  assert.ok(codes.size > 10, "could not read the error code union");
  return codes;
}

/**
 * The python-websockets style check that the connection failed with `closeCode`:
 * the handler's error has the stable `code` and `closeCode`, exactly one Close
 * frame with that code and an empty reason was queued (only if `expectClose`),
 * the state is CLOSED, the close event says 1006 / not clean, and further input
 * is ignored with nothing more sent.
 *
 * @param recorder The engine and its log, after the offending input.
 * @param code The expected stable error code.
 * @param closeCode The expected close code on the error and on the wire.
 * @param options `sentCloseBefore`: we had already sent a Close, so none may be queued now.
 */
export function assertFailing(
  recorder: Recorder,
  code: WebSocketErrorCode,
  closeCode: number,
  options: { sentCloseBefore?: boolean } = {},
): void {
  const { engine, errors, closes } = recorder;
  assert.equal(errors.length, 1, `expected one error, got ${errors.map((e) => e.code)}`);
  const [error] = errors;
  assert.ok(error instanceof WebSocketError);
  assert.equal(error.code, code);
  assert.equal(error.closeCode, closeCode);
  const frames = parseFrames(engine.takeOutput());
  if (options.sentCloseBefore) {
    assert.equal(frames.length, 0, "no second Close after ours");
  } else {
    assert.equal(frames.length, 1, "exactly one frame queued");
    assert.equal(frames[0].opcode, Opcode.Close);
    assert.equal(frames[0].fin, true);
    assert.deepEqual(decodeClosePayload(frames[0].payload), { closeCode, reason: "" });
  }
  assert.equal(engine.state, ReadyState.CLOSED);
  assert.deepEqual(closes, [{ closeCode: 1006, reason: "", wasClean: false }]);
  // Further input is ignored, nothing more is sent.
  const eventsBefore = recorder.events.length;
  engine.receive(hex("81 85 00 00 00 00 48 65 6c 6c 6f"));
  engine.receive(hex("81 05 48 65 6c 6c 6f"));
  engine.receive(hex("89 00"));
  assert.equal(recorder.events.length, eventsBefore, "input after failure must be ignored");
  assert.deepEqual(engine.takeOutput(), []);
  assert.equal(engine.bufferedAmount, 0);
  assert.throws(() => engine.sendText("x"), { code: "WS_ERR_NOT_OPEN" });
}

/** A deterministic `random` for masking keys: returns `key` every time. */
export function fixedKey(key: Uint8Array): (bytes: Uint8Array) => void {
  return (bytes) => bytes.set(key);
}

/**
 * Builds one frame's wire bytes (masked with `key` when given). Unlike
 * `encodeFrame`, it can set any bit, so it builds invalid frames too.
 */
export function frame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: {
    fin?: boolean;
    rsv1?: boolean;
    rsv2?: boolean;
    rsv3?: boolean;
    key?: Uint8Array;
  } = {},
): Uint8Array {
  const data = typeof payload === "string" ? utf8(payload) : payload;
  const { fin = true, rsv1 = false, rsv2 = false, rsv3 = false, key } = options;
  const b0 = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) |
    (opcode & 0x0f);
  const maskBit = key ? 0x80 : 0;
  let header: number[];
  if (data.length < 126) header = [b0, maskBit | data.length];
  else if (data.length < 65536) header = [b0, maskBit | 126, data.length >> 8, data.length & 0xff];
  else {
    const high = Math.floor(data.length / 2 ** 32);
    const low = data.length >>> 0;
    header = [
      b0,
      maskBit | 127,
      high >>> 24,
      (high >>> 16) & 0xff,
      (high >>> 8) & 0xff,
      high & 0xff,
      low >>> 24,
      (low >>> 16) & 0xff,
      (low >>> 8) & 0xff,
      low & 0xff,
    ];
  }
  const body = data.slice();
  if (key) {
    header.push(...key);
    _maskBytewise(body, key);
  }
  return concatBytes(new Uint8Array(header), body);
}

/** The RFC 6455 §5.7 masking key. */
export const RFC_KEY: Uint8Array = hex("37 fa 21 3d");

/**
 * A frame as the peer of an engine of `role` must send it: masked (with
 * {@linkcode RFC_KEY}) to a server, unmasked to a client.
 */
export function peerFrame(
  role: "client" | "server",
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: { fin?: boolean; rsv1?: boolean; rsv2?: boolean; rsv3?: boolean } = {},
): Uint8Array {
  return frame(opcode, payload, { ...options, key: role === "server" ? RFC_KEY : undefined });
}

/** Both roles, for tests that apply to each. */
export const ROLES: readonly ("client" | "server")[] = ["client", "server"];

/** Close codes that may not appear on the wire (RFC 6455 §7.4), for both sides' tests. */
export const INVALID_CLOSE_CODES: readonly number[] = [
  0,
  999,
  1004,
  1005,
  1006,
  1015,
  1016,
  2000,
  2999,
  5000,
  65535,
];

/** Close codes that may (RFC 6455 §7.4.1, §7.4.2 and the IANA registry). */
export const VALID_CLOSE_CODES: readonly number[] = [
  1000,
  1001,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  3000,
  4000,
  4999,
];

/**
 * Empties the process-wide output pool (module-global state, shared with every
 * other test in the process): a bound of 0 lets go of every idle buffer, then
 * the default bound returns. What a test gives back after this is what it
 * takes next.
 */
export function drainPool(): void {
  configureOutputPool({ maxIdleBytes: 0 });
  configureOutputPool({});
}

/**
 * Asserts `actual` holds the bytes of `expected`, naming the first difference
 * (a `deepEqual` diff of large arrays takes minutes).
 */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, message: string): void {
  assert.equal(actual.length, expected.length, `${message}: length`);
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  assert.equal(at, -1, `${message}: first difference at byte ${at}`);
}
