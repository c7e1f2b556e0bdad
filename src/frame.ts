/**
 * Frame header codec (RFC 6455 §5.2): pure functions over `Uint8Array` with
 * explicit offsets.
 *
 * @module
 */

import { WebSocketError } from "./errors.ts";
import { mask } from "./mask.ts";

/** Frame opcodes (RFC 6455 §5.2, §11.8). */
export const Opcode = {
  /** A continuation of a fragmented message. */
  Continuation: 0x0,
  /** The first frame of a text message. */
  Text: 0x1,
  /** The first frame of a binary message. */
  Binary: 0x2,
  /** Close (control frame). */
  Close: 0x8,
  /** Ping (control frame). */
  Ping: 0x9,
  /** Pong (control frame). */
  Pong: 0xa,
} as const;

/** One of the opcodes defined by RFC 6455. */
export type Opcode = typeof Opcode[keyof typeof Opcode];

/** The fields of a frame header. */
export interface FrameHeader {
  /** Final fragment of a message. */
  fin: boolean;
  /** RSV1, used by permessage-deflate (RFC 7692 §6). */
  rsv1: boolean;
  /** RSV2, reserved. */
  rsv2: boolean;
  /** RSV3, reserved. */
  rsv3: boolean;
  /** The opcode (4 bits; not necessarily a defined one when decoded). */
  opcode: number;
  /** The masking key when the frame is masked, else `undefined`. */
  mask: Uint8Array | undefined;
  /** Payload length in bytes. */
  payloadLength: number;
  /** Header length in bytes (2 to 14). */
  headerLength: number;
}

/**
 * The length of a frame header for a payload of `payloadLength` bytes.
 *
 * @param payloadLength The payload length.
 * @param masked Whether the frame carries a masking key.
 * @returns The header length in bytes (2 to 14).
 */
export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Decodes a frame header starting at `offset`.
 *
 * Only the 64-bit length rule is enforced here (RFC 6455 §5.2: the most
 * significant bit must be 0); the protocol engine checks everything else.
 * Lengths beyond `Number.MAX_SAFE_INTEGER` are reported as
 * `WS_ERR_FRAME_TOO_BIG`.
 *
 * @param bytes The buffer holding the header.
 * @param offset Where the header starts.
 * @returns The header, or `undefined` if `bytes` does not yet hold all of it.
 * @throws {WebSocketError} `WS_ERR_INVALID_LENGTH` or `WS_ERR_FRAME_TOO_BIG`.
 *
 * @example The RFC 6455 §5.7 masked "Hello"
 * ```ts
 * import { decodeFrameHeader } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const header = decodeFrameHeader(new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]));
 * assert.equal(header?.opcode, 1);
 * assert.equal(header?.fin, true);
 * assert.equal(header?.payloadLength, 5);
 * assert.deepEqual([...header!.mask!], [0x37, 0xfa, 0x21, 0x3d]);
 * assert.equal(decodeFrameHeader(new Uint8Array([0x81])), undefined);
 * ```
 */
export function decodeFrameHeader(bytes: Uint8Array, offset = 0): FrameHeader | undefined {
  const available = bytes.length - offset;
  if (available < 2) return undefined;
  const b0 = bytes[offset];
  const b1 = bytes[offset + 1];
  const masked = (b1 & 0x80) !== 0;
  let payloadLength = b1 & 0x7f;
  let at = offset + 2;
  if (payloadLength === 126) {
    if (available < 4) return undefined;
    payloadLength = (bytes[at] << 8) | bytes[at + 1];
    at += 2;
  } else if (payloadLength === 127) {
    if (available < 10) return undefined;
    payloadLength = readLength64(bytes, at);
    at += 8;
  }
  let maskKey: Uint8Array | undefined;
  if (masked) {
    if (bytes.length < at + 4) return undefined;
    maskKey = bytes.slice(at, at + 4);
    at += 4;
  }
  return {
    fin: (b0 & 0x80) !== 0,
    rsv1: (b0 & 0x40) !== 0,
    rsv2: (b0 & 0x20) !== 0,
    rsv3: (b0 & 0x10) !== 0,
    opcode: b0 & 0x0f,
    mask: maskKey,
    payloadLength,
    headerLength: at - offset,
  };
}

/**
 * Reads a 64-bit payload length (RFC 6455 §5.2).
 *
 * @param bytes The buffer.
 * @param at The offset of the 8 length bytes.
 * @returns The length.
 * @throws {WebSocketError} If the top bit is set, or the length exceeds 2^53 - 1.
 */
export function readLength64(bytes: Uint8Array, at: number): number {
  const high = ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) |
    bytes[at + 3]) >>> 0;
  const low = ((bytes[at + 4] << 24) | (bytes[at + 5] << 16) | (bytes[at + 6] << 8) |
    bytes[at + 7]) >>> 0;
  // RFC 6455 §5.2: "the most significant bit MUST be 0".
  if (high & 0x80000000) {
    throw new WebSocketError("WS_ERR_INVALID_LENGTH", "Payload length has its top bit set", {
      rule: "RFC 6455 §5.2",
    });
  }
  if (high > 0x1fffff) {
    throw new WebSocketError("WS_ERR_FRAME_TOO_BIG", "Payload length exceeds 2^53 - 1", {
      closeCode: 1009,
    });
  }
  return high * 0x100000000 + low;
}

/** Options for {@linkcode encodeFrameHeader} and {@linkcode encodeFrame}. */
export interface EncodeFrameOptions {
  /** Final fragment; defaults to `true`. */
  fin?: boolean;
  /** RSV1 bit (compressed message); defaults to `false`. */
  rsv1?: boolean;
  /** Masking key; clients must mask every frame (RFC 6455 §5.3). */
  mask?: Uint8Array;
}

/**
 * Writes a frame header into `target` at `offset`.
 *
 * @param target The destination buffer; needs {@linkcode frameHeaderLength} bytes.
 * @param offset Where to write.
 * @param opcode The opcode.
 * @param payloadLength The payload length.
 * @param options FIN, RSV1 and the masking key.
 * @returns The number of bytes written.
 */
export function encodeFrameHeader(
  target: Uint8Array,
  offset: number,
  opcode: number,
  payloadLength: number,
  options: EncodeFrameOptions = {},
): number {
  const { fin = true, rsv1 = false, mask: maskKey } = options;
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey ? 0x80 : 0;
  let at = offset + 2;
  if (payloadLength < 126) {
    target[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength < 65536) {
    target[offset + 1] = maskBit | 126;
    target[at] = payloadLength >>> 8;
    target[at + 1] = payloadLength & 0xff;
    at += 2;
  } else {
    target[offset + 1] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x100000000);
    const low = payloadLength >>> 0;
    target[at] = high >>> 24;
    target[at + 1] = (high >>> 16) & 0xff;
    target[at + 2] = (high >>> 8) & 0xff;
    target[at + 3] = high & 0xff;
    target[at + 4] = low >>> 24;
    target[at + 5] = (low >>> 16) & 0xff;
    target[at + 6] = (low >>> 8) & 0xff;
    target[at + 7] = low & 0xff;
    at += 8;
  }
  if (maskKey) {
    target.set(maskKey, at);
    at += 4;
  }
  return at - offset;
}

/**
 * Encodes a whole frame: header plus payload, masked when a key is given.
 * `payload` is not modified.
 *
 * @param opcode The opcode.
 * @param payload The payload bytes.
 * @param options FIN, RSV1 and the masking key.
 * @returns A new buffer holding the frame.
 *
 * @example The RFC 6455 §5.7 examples
 * ```ts
 * import { encodeFrame, Opcode } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const hello = new TextEncoder().encode("Hello");
 * assert.deepEqual([...encodeFrame(Opcode.Text, hello)], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
 * const masked = encodeFrame(Opcode.Text, hello, { mask: new Uint8Array([0x37, 0xfa, 0x21, 0x3d]) });
 * assert.deepEqual([...masked.subarray(0, 2)], [0x81, 0x85]);
 * ```
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): Uint8Array {
  const headerLength = frameHeaderLength(payload.length, options.mask !== undefined);
  const frame = new Uint8Array(headerLength + payload.length);
  encodeFrameHeader(frame, 0, opcode, payload.length, options);
  frame.set(payload, headerLength);
  if (options.mask) mask(frame.subarray(headerLength), options.mask);
  return frame;
}
