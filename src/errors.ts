/**
 * The one error type edgesocket throws or reports for protocol, handshake and
 * lifecycle failures. Each failure has a stable {@linkcode WebSocketErrorCode},
 * the close code that went (or would go) on the wire, and the rule it enforces.
 *
 * @module
 */

/**
 * Stable error codes. The README's "Errors" table documents each one; these
 * strings never change meaning between releases.
 */
export type WebSocketErrorCode =
  // Framing (RFC 6455 §5)
  | "WS_ERR_MASK_REQUIRED"
  | "WS_ERR_UNEXPECTED_MASK"
  | "WS_ERR_RESERVED_BITS"
  | "WS_ERR_INVALID_OPCODE"
  | "WS_ERR_INVALID_LENGTH"
  | "WS_ERR_CONTROL_FRAME_TOO_LONG"
  | "WS_ERR_FRAGMENTED_CONTROL_FRAME"
  | "WS_ERR_UNEXPECTED_CONTINUATION"
  | "WS_ERR_EXPECTED_CONTINUATION"
  | "WS_ERR_INVALID_CLOSE_CODE"
  | "WS_ERR_INVALID_CLOSE_PAYLOAD"
  | "WS_ERR_INVALID_UTF8"
  | "WS_ERR_INVALID_COMPRESSED_DATA"
  // Limits (close code 1009)
  | "WS_ERR_FRAME_TOO_BIG"
  | "WS_ERR_MESSAGE_TOO_BIG"
  | "WS_ERR_TOO_MANY_FRAGMENTS"
  // Opening handshake (RFC 6455 §4)
  | "WS_ERR_HANDSHAKE_REJECTED"
  | "WS_ERR_INVALID_HANDSHAKE"
  | "WS_ERR_HEADERS_TOO_LARGE"
  // Lifecycle
  | "WS_ERR_HANDSHAKE_TIMEOUT"
  | "WS_ERR_CLOSE_TIMEOUT"
  | "WS_ERR_PONG_TIMEOUT"
  | "WS_ERR_IDLE_TIMEOUT"
  | "WS_ERR_CONNECTION_LOST"
  | "WS_ERR_NOT_OPEN"
  | "WS_ERR_ABORTED"
  | "WS_ERR_UNSUPPORTED"
  | "WS_ERR_INTERNAL";

/** Options for {@linkcode WebSocketError}. */
export interface WebSocketErrorOptions {
  /** The close code sent to (or implied for) the peer. Defaults to 1002. */
  closeCode?: number;
  /** The RFC rule this failure enforces, e.g. `RFC 6455 §5.1`. */
  rule?: string;
  /** For handshake failures, the HTTP status the server answered (or would answer). */
  status?: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A protocol, handshake or lifecycle failure with a stable `code`.
 *
 * @example Catching a handshake rejection
 * ```ts
 * import { WebSocketError } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const error = new WebSocketError("WS_ERR_INVALID_UTF8", "Invalid UTF-8 in text message", {
 *   closeCode: 1007,
 *   rule: "RFC 6455 §8.1",
 * });
 * assert.equal(error.code, "WS_ERR_INVALID_UTF8");
 * assert.equal(error.closeCode, 1007);
 * assert.ok(error instanceof Error);
 * ```
 */
export class WebSocketError extends Error {
  /** Stable machine-readable code. */
  readonly code: WebSocketErrorCode;
  /** Close code sent on the wire (1002, 1007, 1009, 1011, …) or implied locally (1006). */
  readonly closeCode: number;
  /** The RFC rule enforced, or an empty string. */
  readonly rule: string;
  /** HTTP status for handshake failures, else `undefined`. */
  readonly status: number | undefined;

  /**
   * Creates a new error.
   *
   * @param code The stable error code.
   * @param message A human-readable message (never sent on the wire).
   * @param options Close code, rule, status and cause.
   */
  constructor(code: WebSocketErrorCode, message: string, options: WebSocketErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WebSocketError";
    this.code = code;
    this.closeCode = options.closeCode ?? 1002;
    this.rule = options.rule ?? "";
    this.status = options.status;
  }
}
