/**
 * Close frame payloads (RFC 6455 §5.5.1, §7.4).
 *
 * @module
 */

import { WebSocketError } from "./errors.ts";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Whether `closeCode` may appear in a Close frame on the wire (RFC 6455
 * §7.4.1, §7.4.2 and the IANA registry): 1000–1003, 1007–1014 and
 * 3000–4999. 1004, 1005, 1006 and 1015 are reserved for local use, and
 * 1016–2999 are unassigned.
 *
 * @param closeCode The status code to check.
 * @returns `true` if the code may be sent and received.
 *
 * @example Reserved codes
 * ```ts
 * import { isValidCloseCode } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isValidCloseCode(1000));
 * assert.ok(isValidCloseCode(4000));
 * assert.ok(!isValidCloseCode(1005));
 * assert.ok(!isValidCloseCode(2000));
 * ```
 */
export function isValidCloseCode(closeCode: number): boolean {
  return (closeCode >= 1000 && closeCode <= 1003) ||
    (closeCode >= 1007 && closeCode <= 1014) ||
    (closeCode >= 3000 && closeCode <= 4999);
}

/**
 * Encodes a Close frame payload: a 2-byte big-endian status code followed by
 * a UTF-8 reason. With no code the payload is empty (the peer then reports
 * 1005, "no status received").
 *
 * @param closeCode The status code, or `undefined` for an empty payload.
 * @param reason The reason; at most 123 bytes of UTF-8 (RFC 6455 §5.5).
 * @returns The payload bytes.
 * @throws {RangeError} If the code may not be sent, or the reason is too long
 * or given without a code.
 *
 * @example Encoding a normal closure
 * ```ts
 * import { encodeClosePayload } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...encodeClosePayload(1000, "ok")], [0x03, 0xe8, 0x6f, 0x6b]);
 * assert.equal(encodeClosePayload().length, 0);
 * ```
 */
export function encodeClosePayload(closeCode?: number, reason = ""): Uint8Array {
  if (closeCode === undefined) {
    if (reason !== "") throw new RangeError("Close reason requires a close code");
    return new Uint8Array(0);
  }
  if (!Number.isInteger(closeCode) || !isValidCloseCode(closeCode)) {
    throw new RangeError(`Invalid close code: ${closeCode}`);
  }
  const payload = new Uint8Array(2 + reason.length * 3);
  payload[0] = closeCode >>> 8;
  payload[1] = closeCode & 0xff;
  const { written } = encoder.encodeInto(reason, payload.subarray(2));
  // RFC 6455 §5.5: control frame payloads are at most 125 bytes.
  if (written > 123) throw new RangeError(`Close reason too long: ${written} bytes, at most 123`);
  return payload.subarray(0, 2 + written);
}

/** A decoded Close frame payload. */
export interface ClosePayload {
  /** The status code, or 1005 when the payload was empty. */
  closeCode: number;
  /** The reason, possibly empty. */
  reason: string;
}

/**
 * Decodes and validates a received Close frame payload.
 *
 * @param payload The (unmasked) payload bytes.
 * @returns The status code (1005 if absent) and reason.
 * @throws {WebSocketError} `WS_ERR_INVALID_CLOSE_PAYLOAD` for a 1-byte
 * payload, `WS_ERR_INVALID_CLOSE_CODE` for a code that may not be sent,
 * `WS_ERR_INVALID_UTF8` (close code 1007) for a reason that is not UTF-8.
 *
 * @example Decoding
 * ```ts
 * import { decodeClosePayload } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(decodeClosePayload(new Uint8Array([0x03, 0xe9])), {
 *   closeCode: 1001,
 *   reason: "",
 * });
 * assert.throws(() => decodeClosePayload(new Uint8Array([0x03, 0xed])), {
 *   code: "WS_ERR_INVALID_CLOSE_CODE",
 * });
 * ```
 */
export function decodeClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { closeCode: 1005, reason: "" };
  if (payload.length === 1) {
    throw new WebSocketError("WS_ERR_INVALID_CLOSE_PAYLOAD", "Close payload of 1 byte", {
      rule: "RFC 6455 §5.5.1",
    });
  }
  const closeCode = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(closeCode)) {
    throw new WebSocketError("WS_ERR_INVALID_CLOSE_CODE", `Invalid close code: ${closeCode}`, {
      rule: "RFC 6455 §7.4.1",
    });
  }
  let reason: string;
  try {
    reason = strictDecoder.decode(payload.subarray(2));
  } catch (cause) {
    throw new WebSocketError("WS_ERR_INVALID_UTF8", "Invalid UTF-8 in close reason", {
      closeCode: 1007,
      rule: "RFC 6455 §5.5.1",
      cause,
    });
  }
  return { closeCode, reason };
}
