import assert from "node:assert/strict";
import { decodeClosePayload, encodeClosePayload, isValidCloseCode } from "../src/close.ts";
import { WebSocketError } from "../src/errors.ts";
import {
  concatBytes,
  hex,
  INVALID_CLOSE_CODES,
  toHex,
  utf8,
  VALID_CLOSE_CODES,
} from "./_fixtures.ts";

Deno.test("RFC 6455 §7.4: isValidCloseCode", () => {
  for (const code of VALID_CLOSE_CODES) assert.ok(isValidCloseCode(code), `${code}`);
  for (const code of INVALID_CLOSE_CODES) assert.ok(!isValidCloseCode(code), `${code}`);
});

Deno.test("RFC 6455 §5.5.1: encodeClosePayload", () => {
  assert.equal(toHex(encodeClosePayload(1000, "ok")), "03 e8 6f 6b");
  assert.equal(toHex(encodeClosePayload(4999)), "13 87");
  assert.equal(encodeClosePayload().length, 0);
  // 123 bytes of reason is the most that fits in 125 bytes.
  assert.equal(encodeClosePayload(1000, "a".repeat(123)).length, 125);
  assert.equal(encodeClosePayload(1000, "é".repeat(61) + "a").length, 125);
  assert.throws(() => encodeClosePayload(1000, "a".repeat(124)), RangeError);
  assert.throws(() => encodeClosePayload(1000, "é".repeat(62)), RangeError);
  assert.throws(() => encodeClosePayload(undefined, "why"), RangeError);
  for (const code of [...INVALID_CLOSE_CODES, 1000.5, NaN]) {
    assert.throws(() => encodeClosePayload(code), RangeError, `${code}`);
  }
});

Deno.test("RFC 6455 §5.5.1: decodeClosePayload", () => {
  assert.deepEqual(decodeClosePayload(new Uint8Array(0)), { closeCode: 1005, reason: "" });
  assert.deepEqual(decodeClosePayload(hex("03 e8 6f 6b")), { closeCode: 1000, reason: "ok" });
  // A leading BOM in a reason is kept, not stripped.
  assert.deepEqual(decodeClosePayload(hex("0f a0 ef bb bf 78")), {
    closeCode: 4000,
    reason: "\ufeffx",
  });
  for (const code of VALID_CLOSE_CODES) {
    assert.equal(decodeClosePayload(new Uint8Array([code >> 8, code & 0xff])).closeCode, code);
  }
});

Deno.test("RFC 6455 §5.5.1: a 1-byte close payload is a protocol error", () => {
  assert.throws(
    () => decodeClosePayload(hex("03")),
    (error: unknown) =>
      error instanceof WebSocketError && error.code === "WS_ERR_INVALID_CLOSE_PAYLOAD" &&
      error.closeCode === 1002,
  );
});

Deno.test("RFC 6455 §7.4.1: a reserved or unassigned close code is a protocol error", () => {
  for (const code of INVALID_CLOSE_CODES) {
    assert.throws(
      () => decodeClosePayload(new Uint8Array([code >> 8, code & 0xff])),
      (error: unknown) =>
        error instanceof WebSocketError && error.code === "WS_ERR_INVALID_CLOSE_CODE" &&
        error.closeCode === 1002,
      `${code}`,
    );
  }
});

Deno.test("RFC 6455 §5.5.1: a close reason that is not UTF-8 fails with 1007", () => {
  for (const bad of ["ff", "c3", "ed a0 80", "f4 90 80 80", "c0 af"]) {
    assert.throws(
      () => decodeClosePayload(concatBytes(hex("03 e8"), utf8("why"), hex(bad))),
      (error: unknown) =>
        error instanceof WebSocketError && error.code === "WS_ERR_INVALID_UTF8" &&
        error.closeCode === 1007,
      bad,
    );
  }
});
