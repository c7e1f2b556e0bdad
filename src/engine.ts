/**
 * The sans-I/O protocol engine (RFC 6455 §5–§7): bytes in, events and bytes
 * out. It owns no sockets, timers or globals; randomness is injected.
 *
 * @module
 */

import { ceilPow2, concat } from "./_bytes.ts";
import { decodeClosePayload, encodeClosePayload } from "./close.ts";
import { WebSocketError } from "./errors.ts";
import { encodeFrameHeader, frameHeaderLength, Opcode, readLength64 } from "./frame.ts";
import { mask, maskWith } from "./mask.ts";
import { JAVASCRIPTCORE } from "./_jsc.ts";
import { giveBack, giveBackLent, keepOut, LENT_HEADROOM, POOLED_MAX, takeBuffer } from "./_pool.ts";

/** Connection states (RFC 6455 §4, §7; WHATWG `readyState` values). */
export const ReadyState = {
  /** The opening handshake is under way. */
  CONNECTING: 0,
  /** Messages flow both ways. */
  OPEN: 1,
  /** We sent a Close frame and wait for the peer's. */
  CLOSING: 2,
  /** The closing handshake finished, or the connection failed. */
  CLOSED: 3,
} as const;

/** One of the {@linkcode ReadyState} values. */
export type ReadyState = typeof ReadyState[keyof typeof ReadyState];

/** How a connection ended, as seen by this endpoint. */
export interface CloseInfo {
  /** The peer's status code, 1005 if its Close frame had none, 1006 if none arrived. */
  closeCode: number;
  /** The peer's reason. */
  reason: string;
  /** Whether both Close frames were exchanged. */
  wasClean: boolean;
}

/** Callbacks through which the engine reports what it received. */
export interface EngineHandler {
  /** A complete, valid text message. */
  text(data: string): void;
  /**
   * A complete binary message. With `borrowed` (see
   * {@linkcode EngineOptions.reuseMessageBuffers}) `data` is valid only
   * during this call: the engine takes its buffer back afterwards.
   */
  binary(data: Uint8Array, borrowed?: boolean): void;
  /**
   * A complete message whose first frame had RSV1 set (RFC 7692 §6), passed
   * on still compressed; only called when `compression` is enabled.
   */
  compressed?(opcode: typeof Opcode.Text | typeof Opcode.Binary, data: Uint8Array): void;
  /** A Ping; the Pong is already queued. */
  ping?(data: Uint8Array): void;
  /** A Pong. */
  pong?(data: Uint8Array): void;
  /** The connection failed; `close` follows. */
  error?(error: WebSocketError): void;
  /** The state became CLOSED. Called once. */
  close(info: CloseInfo): void;
}

/** Limits and role for {@linkcode WebSocketEngine}. */
export interface EngineOptions {
  /** Clients mask what they send and reject masked frames; servers do the opposite. */
  role: "client" | "server";
  /** Largest frame payload accepted, in bytes. Default 16 MiB. */
  maxFrameSize?: number;
  /** Largest message accepted (sum of its frames), in bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** Most frames one message may span. Default 1024. */
  maxFragments?: number;
  /** Whether a negotiated extension (permessage-deflate) gives RSV1 a meaning. */
  compression?: boolean;
  /** Fills a buffer with random bytes, for masking keys. Default `crypto.getRandomValues`. */
  random?: (bytes: Uint8Array) => void;
  /** Starts in CONNECTING instead of OPEN; call {@linkcode WebSocketEngine.open} later. */
  connecting?: boolean;
  /**
   * Receives unfragmented, uncompressed binary messages of at least
   * {@linkcode REUSE_MIN} bytes into buffers from the process-wide pool and
   * takes each back once {@linkcode EngineHandler.binary} returns (which
   * then gets `borrowed`), instead of a fresh buffer per message. Each has
   * room for a frame header before it (except on Bun, JavaScriptCore), so
   * that sent on with `owned` it goes out from its own memory. Default
   * `false`. Large text payloads always use the pool: they are decoded
   * before the handler sees anything.
   */
  reuseMessageBuffers?: boolean;
}

/**
 * Payloads from this size on can come from the buffer pool
 * ({@linkcode EngineOptions.reuseMessageBuffers}); smaller ones are cheap to
 * allocate.
 */
export const REUSE_MIN = 16 * 1024;

/**
 * Binary payloads from this size on are assembled in a pooled buffer and
 * copied into a buffer of their own once complete, where
 * {@linkcode _stageLargeBinary} is on (JavaScriptCore). There, a fresh
 * zero-filled `Uint8Array` filled over many reads faults in its pages anew
 * under load: on Bun's `node:http` at 1 MiB × 256 connections, 200–300 page
 * faults per echo, against ~150 staged (bench/README.md). At 64 KiB the copy
 * cost more than it saved. Up to the pool's largest class
 * ({@linkcode POOLED_MAX}, 4 MiB). While it arrives, a staged payload holds
 * a buffer of the next power of two (less than twice its size), as large
 * text payloads and lent ones do.
 */
const STAGE_MIN = 256 * 1024;
let stageLargeBinary = JAVASCRIPTCORE;

/**
 * Whether large binary messages are assembled in the pool and copied out
 * (see {@linkcode STAGE_MIN}): on by default on JavaScriptCore only. For
 * tests, which run on V8.
 *
 * @param on The new setting; left out, unchanged.
 * @returns The setting before the call.
 */
export function _stageLargeBinary(on?: boolean): boolean {
  const before = stageLargeBinary;
  if (on !== undefined) stageLargeBinary = on;
  return before;
}

/**
 * Where a received payload's buffer came from: its own (or a view of a read
 * chunk), the pool for the handler's call only, the pool until it is copied
 * out ({@linkcode STAGE_MIN}), or the pool until its message is joined (a
 * fragment).
 */
type PayloadSource = typeof FRESH | typeof POOLED | typeof STAGED | typeof HELD;
const FRESH = 0;
const POOLED = 1;
const STAGED = 2;
const HELD = 3;

/** Options for sending one frame with {@linkcode WebSocketEngine.sendFrame}. */
export interface SendFrameOptions {
  /** Final fragment; default `true`. */
  fin?: boolean;
  /** Set RSV1 (a compressed message's first frame). */
  rsv1?: boolean;
  /** Hand the payload over instead of lending it (see {@linkcode WebSocketEngine.sendBinary}). */
  owned?: boolean;
}

/** Default limits. */
export const DEFAULT_LIMITS: Readonly<
  { maxFrameSize: number; maxMessageSize: number; maxFragments: number }
> = Object.freeze({
  maxFrameSize: 16 * 1024 * 1024,
  maxMessageSize: 16 * 1024 * 1024,
  maxFragments: 1024,
});

/**
 * Hands a buffer from a pooled engine's {@linkcode WebSocketEngine.takeOutput}
 * back to the pool, once nothing refers to its bytes.
 *
 * @param chunk A chunk `takeOutput` returned.
 */
export const releaseOutput: (chunk: Uint8Array) => void = giveBack;

const encoder = new TextEncoder();
/** Decodes whole (unfragmented) text messages; stateless, so shared by every engine. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);
/** More pending chunks than this and a partial payload is assembled as it arrives. */
const MAX_PENDING_CHUNKS = 16;
/** Output below this size is coalesced into one buffer per flush. */
const COALESCE_LIMIT = 64 * 1024;
/** The first size of the reusable output buffer. */
const OUT_MIN = 1024;
/**
 * An output buffer larger than this is dropped after a flush that used less
 * than a quarter of it: a busy socket keeps its buffer, a quiet one does not.
 */
const OUT_KEEP = 16 * 1024;

/** Parser phases. */
const HEADER = 0;
const PAYLOAD = 1;

const secureRandom = (bytes: Uint8Array): void => {
  crypto.getRandomValues(bytes);
};

/**
 * One WebSocket connection's protocol state machine. Feed it the bytes read
 * from the transport with {@linkcode WebSocketEngine.receive}; take the bytes
 * to write with {@linkcode WebSocketEngine.takeOutput}.
 *
 * `receive` takes ownership of the chunk: masked payloads are unmasked in
 * place and delivered binary messages may be views into it.
 *
 * @example A server echoing a masked frame
 * ```ts
 * import { WebSocketEngine } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const engine = new WebSocketEngine({ role: "server" }, {
 *   text: (data) => engine.sendText(data),
 *   binary: () => {},
 *   close: () => {},
 * });
 * // RFC 6455 §5.7: a masked "Hello" from a client
 * engine.receive(new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]));
 * const [frame] = engine.takeOutput();
 * assert.deepEqual([...frame], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
 * ```
 */
export class WebSocketEngine {
  #handler: EngineHandler;
  #server: boolean;
  #maxFrameSize: number;
  #maxMessageSize: number;
  #maxFragments: number;
  #compression: boolean;
  #random: (bytes: Uint8Array) => void;
  #state: ReadyState;
  #closeSent = false;
  #closeReceived = false;

  // Receive side: a list of chunks, consumed from the front.
  #chunks: Uint8Array[] = [];
  #chunkOffset = 0;
  #buffered = 0;
  #phase = HEADER;
  /** Gathers a header split across chunks; allocated on first use (idle sockets stay small). */
  #scratch: Uint8Array | undefined;
  #fin = false;
  #rsv1 = false;
  #opcode = 0;
  #payloadLength = 0;
  /** The payload being assembled from many small chunks, if any. */
  #partial: Uint8Array | undefined;
  #partialFilled = 0;
  #masked = false;
  /** The frame's masking key, packed (see `maskWith`). */
  #maskKey = 0;

  // The message being reassembled.
  #messageOpcode = 0; // 0: none in progress
  #messageCompressed = false;
  #messageSize = 0;
  #fragments = 0;
  /** Fragments so far (binary, or text decoded), created on the first fragment. */
  #parts: Uint8Array[] | undefined;
  /** Those of `#parts` in pool buffers (`HELD`), given back once the message is joined. */
  #heldParts: Uint8Array[] | undefined;
  #textParts: string[] | undefined;
  /** Streaming decoder for fragmented text, created on the first fragment. */
  #decoder: TextDecoder | undefined;

  // Send side.
  /** Output ready to take, in order (sealed buffer contents and large frames). */
  #out: Uint8Array[] = [];
  /** Bytes queued, in `#out` and `#outBuf` together. */
  #outSize = 0;
  /**
   * Frames are encoded here, one after another, and copied out once per
   * takeOutput(): one allocation per flush, not one per frame.
   */
  #outBuf: Uint8Array = EMPTY;
  #outLen = 0;
  #outKey: Uint8Array = EMPTY; // clients only, set in the constructor
  /** takeOutput() hands out pooled buffers (see {@linkcode WebSocketEngine.poolOutput}). */
  #pooled = false;
  /** {@linkcode EngineOptions.reuseMessageBuffers}. */
  #reuseBinary: boolean;
  /** Where the buffer of the payload being received came from (see {@linkcode #payloadBuffer}). */
  #payloadFrom: PayloadSource = FRESH;

  /**
   * Creates an engine.
   *
   * @param options Role, limits, extension and randomness.
   * @param handler Receives messages, control frames and the close.
   */
  constructor(options: EngineOptions, handler: EngineHandler) {
    this.#handler = handler;
    this.#server = options.role === "server";
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_LIMITS.maxFrameSize;
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_LIMITS.maxMessageSize;
    this.#maxFragments = options.maxFragments ?? DEFAULT_LIMITS.maxFragments;
    this.#compression = options.compression ?? false;
    this.#random = options.random ?? secureRandom;
    this.#state = options.connecting ? ReadyState.CONNECTING : ReadyState.OPEN;
    this.#reuseBinary = options.reuseMessageBuffers ?? false;
    if (!this.#server) this.#outKey = new Uint8Array(4);
  }

  /** The current state. */
  get state(): ReadyState {
    return this.#state;
  }

  /** Bytes queued by `send*` and not yet taken with {@linkcode takeOutput}. */
  get bufferedAmount(): number {
    return this.#outSize;
  }

  /** Whether we have sent a Close frame. */
  get closeSent(): boolean {
    return this.#closeSent;
  }

  /**
   * From now on, {@linkcode takeOutput} hands out buffers from a pool shared
   * by the process instead of fresh ones: give each back with
   * {@linkcode releaseOutput} once the transport no longer refers to its
   * bytes (one not given back is simply garbage-collected). Saves the
   * allocation and zero-filling of a fresh buffer per flush and per large
   * frame.
   */
  poolOutput(): void {
    this.#pooled = true;
  }

  /**
   * Moves from CONNECTING to OPEN once the opening handshake succeeded.
   *
   * @param options What the handshake negotiated: `compression` when
   *   permessage-deflate was agreed (RFC 7692 §6: RSV1 then marks compressed
   *   messages), as the constructor's option of that name.
   */
  open(options: { compression?: boolean } = {}): void {
    if (this.#state !== ReadyState.CONNECTING) return;
    this.#state = ReadyState.OPEN;
    if (options.compression !== undefined) this.#compression = options.compression;
  }

  /**
   * Takes ownership of `chunk`, parses every complete frame in the buffered
   * bytes and reports them to the handler. Bytes after a Close frame, or
   * after a failure, are discarded.
   *
   * @param chunk Bytes read from the transport.
   */
  receive(chunk: Uint8Array): void {
    if (this.#closeReceived || this.#state === ReadyState.CLOSED) return;
    if (this.#state === ReadyState.CONNECTING) {
      throw new TypeError("Cannot receive frames before the opening handshake completed");
    }
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    this.#run();
  }

  /**
   * While a frame still misses at least `minimum` payload bytes, returns the
   * buffer they go into, so the transport can read them straight into it
   * instead of into chunks copied later; report how many bytes were read with
   * {@linkcode WebSocketEngine.commitRead}. Otherwise returns `undefined`:
   * read a chunk and pass it to {@linkcode WebSocketEngine.receive}.
   *
   * @param minimum Fewest missing bytes that make a direct read worthwhile.
   * @returns A view of the rest of the payload buffer, or `undefined`.
   */
  readBuffer(minimum: number): Uint8Array | undefined {
    if (this.#phase !== PAYLOAD || this.#closeReceived || this.#state === ReadyState.CLOSED) {
      return undefined;
    }
    let partial = this.#partial;
    if (partial === undefined) {
      if (this.#payloadLength - this.#buffered < minimum) return undefined;
      partial = this.#partial = this.#payloadBuffer(this.#payloadLength);
      this.#partialFilled = this.#consumeInto(partial, 0);
    } else if (partial.length - this.#partialFilled < minimum) {
      return undefined;
    }
    // Every buffered byte now sits in `partial`, so bytes read go right after them.
    return partial.subarray(this.#partialFilled);
  }

  /**
   * Whether the next byte starts a frame (nothing is buffered) and the frame
   * just received had at least `minimum` payload bytes. Large frames tend to
   * follow large frames: the transport then reads only a header's worth
   * (at most 14 bytes, RFC 6455 §5.2), so that the payload after it goes
   * straight into its own buffer through {@linkcode WebSocketEngine.readBuffer}
   * instead of arriving partly in a read chunk that must be copied.
   *
   * @param minimum Fewest payload bytes of the last frame.
   * @returns `true` when a header-sized read should come next.
   */
  atLargeFrameBoundary(minimum: number): boolean {
    return this.#phase === HEADER && this.#buffered === 0 && this.#payloadLength >= minimum;
  }

  /**
   * Accounts for `length` bytes read into the buffer from
   * {@linkcode WebSocketEngine.readBuffer} and reports what completed.
   *
   * @param length Bytes the transport wrote at the start of that buffer.
   */
  commitRead(length: number): void {
    const partial = this.#partial;
    if (partial === undefined || length <= 0) return;
    if (length > partial.length - this.#partialFilled) {
      throw new RangeError(`Read past the payload buffer: ${length} bytes`);
    }
    this.#partialFilled += length;
    this.#run();
  }

  #run(): void {
    try {
      this.#parse();
    } catch (error) {
      this.fail(
        error instanceof WebSocketError ? error : new WebSocketError(
          "WS_ERR_INTERNAL",
          "Internal error while parsing",
          { closeCode: 1011, cause: error },
        ),
      );
    }
  }

  #parse(): void {
    while (!this.#closeReceived && this.#state !== ReadyState.CLOSED) {
      if (this.#phase === HEADER) {
        if (!this.#readHeader()) return;
        if (this.#payloadLength > 0) {
          this.#phase = PAYLOAD;
          continue;
        }
        this.#frame(EMPTY);
      } else {
        let payload: Uint8Array;
        const partial = this.#partial;
        if (partial) {
          this.#partialFilled += this.#consumeInto(partial, this.#partialFilled);
          if (this.#partialFilled < partial.length) return;
          payload = partial;
          this.#partial = undefined;
        } else if (this.#buffered < this.#payloadLength) {
          // A payload trickling in as many small chunks is assembled as it comes, so
          // memory stays near the payload size instead of one object per chunk.
          if (this.#chunks.length > MAX_PENDING_CHUNKS) {
            this.#partial = this.#payloadBuffer(this.#payloadLength);
            this.#partialFilled = this.#consumeInto(this.#partial, 0);
          }
          return;
        } else {
          payload = this.#take(this.#payloadLength);
        }
        if (this.#masked) maskWith(payload, this.#maskKey);
        this.#phase = HEADER;
        this.#frame(payload);
      }
    }
  }

  /** Parses and validates one header; `false` if more bytes are needed. */
  #readHeader(): boolean {
    if (this.#buffered < 2) return false;
    let chunk = this.#chunks[0];
    let at = this.#chunkOffset;
    let b1 = chunk.length - at >= 2 ? chunk[at + 1] : this.#chunks[1][0];
    const lengthField = b1 & 0x7f;
    const needed = (lengthField < 126 ? 2 : lengthField === 126 ? 4 : 10) +
      ((b1 & 0x80) !== 0 ? 4 : 0);
    if (this.#buffered < needed) return false;
    if (chunk.length - at < needed) {
      // The header spans chunks: gather it (at most 14 bytes) into scratch.
      chunk = this.#peek(needed);
      at = 0;
    }
    const b0 = chunk[at];
    b1 = chunk[at + 1];
    this.#fin = (b0 & 0x80) !== 0;
    this.#rsv1 = (b0 & 0x40) !== 0;
    this.#opcode = b0 & 0x0f;
    this.#masked = (b1 & 0x80) !== 0;
    let length = lengthField;
    let p = at + 2;
    if (length === 126) {
      length = (chunk[p] << 8) | chunk[p + 1];
      p += 2;
    } else if (length === 127) {
      length = readLength64(chunk, p);
      p += 8;
    }
    if (this.#masked) {
      this.#maskKey = chunk[p] | (chunk[p + 1] << 8) | (chunk[p + 2] << 16) | (chunk[p + 3] << 24);
    }
    this.#payloadLength = length;
    this.#skip(needed);
    this.#validateHeader(b0);
    return true;
  }

  #validateHeader(b0: number): void {
    const opcode = this.#opcode;
    const control = (opcode & 0x08) !== 0;
    // RFC 6455 §5.2: RSV bits must be 0 unless an extension defines them;
    // RFC 7692 §6: RSV1 marks a compressed message, on its first frame only.
    if ((b0 & 0x30) !== 0 || (this.#rsv1 && (!this.#compression || control || opcode === 0))) {
      throw new WebSocketError("WS_ERR_RESERVED_BITS", "Reserved bits set", {
        rule: "RFC 6455 §5.2",
      });
    }
    // RFC 6455 §5.2: reserved opcodes must fail the connection.
    if ((opcode > Opcode.Binary && opcode < Opcode.Close) || opcode > Opcode.Pong) {
      throw new WebSocketError("WS_ERR_INVALID_OPCODE", `Reserved opcode: ${opcode}`, {
        rule: "RFC 6455 §5.2",
      });
    }
    // RFC 6455 §5.1: a server must close on an unmasked frame; a client on a masked one.
    if (this.#masked !== this.#server) {
      throw this.#server
        ? new WebSocketError("WS_ERR_MASK_REQUIRED", "Client frame is not masked", {
          rule: "RFC 6455 §5.1",
        })
        : new WebSocketError("WS_ERR_UNEXPECTED_MASK", "Server frame is masked", {
          rule: "RFC 6455 §5.1",
        });
    }
    const length = this.#payloadLength;
    if (control) {
      // RFC 6455 §5.5: control frames are never fragmented and carry ≤ 125 bytes.
      if (!this.#fin) {
        throw new WebSocketError("WS_ERR_FRAGMENTED_CONTROL_FRAME", "Fragmented control frame", {
          rule: "RFC 6455 §5.5",
        });
      }
      if (length > 125) {
        throw new WebSocketError("WS_ERR_CONTROL_FRAME_TOO_LONG", "Control frame too long", {
          rule: "RFC 6455 §5.5",
        });
      }
      return;
    }
    // RFC 6455 §5.4: a continuation needs a started message; a new data frame must not
    // interrupt one.
    if (opcode === Opcode.Continuation) {
      if (this.#messageOpcode === 0) {
        throw new WebSocketError(
          "WS_ERR_UNEXPECTED_CONTINUATION",
          "Continuation frame without a message",
          { rule: "RFC 6455 §5.4" },
        );
      }
    } else if (this.#messageOpcode !== 0) {
      throw new WebSocketError(
        "WS_ERR_EXPECTED_CONTINUATION",
        "New data frame inside a fragmented message",
        { rule: "RFC 6455 §5.4" },
      );
    }
    if (length > this.#maxFrameSize) {
      throw new WebSocketError("WS_ERR_FRAME_TOO_BIG", `Frame too big: ${length} bytes`, {
        closeCode: 1009,
        rule: "RFC 6455 §7.4.1",
      });
    }
    if (this.#messageSize + length > this.#maxMessageSize) {
      throw new WebSocketError(
        "WS_ERR_MESSAGE_TOO_BIG",
        `Message too big: over ${this.#maxMessageSize} bytes`,
        { closeCode: 1009, rule: "RFC 6455 §7.4.1" },
      );
    }
    if (++this.#fragments > this.#maxFragments) {
      throw new WebSocketError(
        "WS_ERR_TOO_MANY_FRAGMENTS",
        `Message spans more than ${this.#maxFragments} frames`,
        { closeCode: 1009 },
      );
    }
    if (opcode !== Opcode.Continuation) {
      this.#messageOpcode = opcode;
      this.#messageCompressed = this.#rsv1;
    }
    this.#messageSize += length;
  }

  /** Copies the first `length` buffered bytes into scratch without consuming them. */
  #peek(length: number): Uint8Array {
    const out = this.#scratch ??= new Uint8Array(14);
    let filled = 0;
    let offset = this.#chunkOffset;
    for (let i = 0; filled < length; i++) {
      const chunk = this.#chunks[i];
      const n = Math.min(chunk.length - offset, length - filled);
      out.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset = 0;
    }
    return out;
  }

  #skip(length: number): void {
    this.#buffered -= length;
    while (length > 0) {
      const chunk = this.#chunks[0];
      const left = chunk.length - this.#chunkOffset;
      if (length < left) {
        this.#chunkOffset += length;
        return;
      }
      length -= left;
      this.#chunks.shift();
      this.#chunkOffset = 0;
    }
  }

  /** Consumes `length` bytes: a view when they sit in one chunk, else a copy. */
  #take(length: number): Uint8Array {
    const first = this.#chunks[0];
    const start = this.#chunkOffset;
    if (first.length - start >= length) {
      const view = first.subarray(start, start + length);
      this.#skip(length);
      return view;
    }
    const out = this.#payloadBuffer(length);
    this.#consumeInto(out, 0);
    return out;
  }

  /**
   * A buffer for the payload of the frame being received. From the pool
   * when nothing will hold it after {@linkcode #frame}: a large text payload
   * (decoded there, compressed ones excepted: they are inflated later), or
   * with `reuseMessageBuffers` a large unfragmented uncompressed binary one;
   * also a large uncompressed binary fragment (held until the message is
   * joined, which copies it out: one copy, no zero-filled buffer per
   * fragment) and a large binary message that is staged (see
   * {@linkcode STAGE_MIN}) and copied out in {@linkcode #frame}. Its bytes
   * are not zeroed: every one is written before it is read.
   */
  #payloadBuffer(length: number): Uint8Array {
    const large = length >= REUSE_MIN && !this.#messageCompressed;
    if (
      large && (this.#messageOpcode === Opcode.Text ||
        (this.#reuseBinary && this.#opcode === Opcode.Binary && this.#fin))
    ) {
      this.#payloadFrom = POOLED;
      // A lent binary payload may be sent back with `transfer`: its header then
      // goes in the room left before it (see #queue).
      return takeBuffer(length, this.#messageOpcode === Opcode.Text ? 0 : LENT_HEADROOM);
    }
    // Above the pool's largest class it would be a fresh buffer copied into another.
    if (large && length <= POOLED_MAX) {
      if (!this.#fin || this.#parts !== undefined) {
        // A fragment is copied out when its message is joined: the pool's until then.
        this.#payloadFrom = HELD;
        return takeBuffer(length);
      }
      if (stageLargeBinary && length >= STAGE_MIN) {
        this.#payloadFrom = STAGED;
        return takeBuffer(length);
      }
    }
    this.#payloadFrom = FRESH;
    return new Uint8Array(length);
  }

  /**
   * Moves buffered bytes into `target` from `at` until it is full or the
   * buffer is empty; returns how many were moved.
   */
  #consumeInto(target: Uint8Array, at: number): number {
    const length = Math.min(target.length - at, this.#buffered);
    const chunks = this.#chunks;
    let filled = 0;
    let index = 0;
    let offset = this.#chunkOffset;
    while (filled < length) {
      const chunk = chunks[index];
      const n = Math.min(chunk.length - offset, length - filled);
      target.set(chunk.subarray(offset, offset + n), at + filled);
      filled += n;
      offset += n;
      if (offset === chunk.length) {
        index++;
        offset = 0;
      }
    }
    // One splice, not a shift() per chunk: a payload trickled in many small
    // chunks must cost linear, not quadratic, time.
    chunks.splice(0, index);
    this.#chunkOffset = offset;
    this.#buffered -= length;
    return length;
  }

  #frame(payload: Uint8Array): void {
    // Set by #payloadBuffer for this payload (a view of a read chunk is FRESH).
    const from = this.#payloadFrom;
    this.#payloadFrom = FRESH;
    const pooled = from === POOLED;
    if (from === STAGED) {
      // Copied into a buffer of its own, the pooled one goes back at once.
      const staged = payload;
      payload = staged.slice();
      giveBack(staged);
    } else if (from === HELD) (this.#heldParts ??= []).push(payload);
    const opcode = this.#opcode;
    if (opcode >= Opcode.Close) {
      this.#control(opcode, payload);
      return;
    }
    if (this.#messageOpcode === Opcode.Text && !this.#messageCompressed) {
      // A short unfragmented message starts and ends here, so the streaming
      // decoder holds no state: pure ASCII (always valid UTF-8) skips it.
      let text = this.#fin && this.#opcode === Opcode.Text && payload.length <= SHORT_TEXT
        ? asciiString(payload)
        : undefined;
      // RFC 6455 §8.1: fail fast on invalid UTF-8, fragment by fragment.
      if (text === undefined) {
        try {
          // Whole messages use the shared stateless decoder; fragments keep state.
          text = this.#fin && this.#textParts === undefined
            ? utf8.decode(payload)
            : (this.#decoder ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }))
              .decode(payload, { stream: !this.#fin });
        } catch (cause) {
          throw new WebSocketError("WS_ERR_INVALID_UTF8", "Invalid UTF-8 in text message", {
            closeCode: 1007,
            rule: "RFC 6455 §8.1",
            cause,
          });
        }
      }
      if (pooled) giveBack(payload);
      const textParts = this.#textParts;
      if (!this.#fin) {
        if (textParts === undefined) this.#textParts = [text];
        else textParts.push(text);
        return;
      }
      if (textParts !== undefined) {
        textParts.push(text);
        text = textParts.join("");
        this.#textParts = undefined;
      }
      this.#endMessage();
      this.#handler.text(text);
      return;
    }
    const parts = this.#parts;
    if (!this.#fin) {
      if (parts === undefined) this.#parts = [payload];
      else parts.push(payload);
      return;
    }
    let data = payload;
    if (parts !== undefined) {
      parts.push(payload);
      data = concat(parts, this.#messageSize);
      this.#parts = undefined;
      this.#giveBackHeld();
    }
    const messageOpcode = this.#messageOpcode as typeof Opcode.Text | typeof Opcode.Binary;
    const compressed = this.#messageCompressed;
    this.#endMessage();
    if (compressed) this.#handler.compressed?.(messageOpcode, data);
    else if (!pooled) this.#handler.binary(data);
    else {
      try {
        this.#handler.binary(data, true);
      } finally {
        giveBackLent(data);
      }
    }
  }

  /** Gives the pool back the buffers of held fragments, once nothing refers to them. */
  #giveBackHeld(): void {
    const held = this.#heldParts;
    if (held === undefined) return;
    for (const buffer of held) giveBack(buffer);
    this.#heldParts = undefined;
  }

  #endMessage(): void {
    this.#messageOpcode = 0;
    this.#messageCompressed = false;
    this.#messageSize = 0;
    this.#fragments = 0;
  }

  #control(opcode: number, payload: Uint8Array): void {
    if (opcode === Opcode.Ping) {
      // RFC 6455 §5.5.2: answer with a Pong carrying the same data, unless closing.
      if (this.#state === ReadyState.OPEN) this.#queue(Opcode.Pong, payload, true, false);
      this.#handler.ping?.(payload);
    } else if (opcode === Opcode.Pong) {
      this.#handler.pong?.(payload);
    } else {
      const { closeCode, reason } = decodeClosePayload(payload);
      this.#closeReceived = true;
      this.#chunks = [];
      this.#partial = undefined;
      this.#buffered = 0;
      if (!this.#closeSent) {
        // RFC 6455 §5.5.1: answer a Close with a Close, typically echoing the code; the
        // reason is echoed too (as ws and python-websockets do), so both ends report it.
        this.#closeSent = true;
        this.#queue(Opcode.Close, payload, true, false);
      }
      this.#finish({ closeCode, reason, wasClean: true });
    }
  }

  #finish(info: CloseInfo): void {
    if (this.#state === ReadyState.CLOSED) return;
    this.#state = ReadyState.CLOSED;
    this.#parts = undefined;
    this.#giveBackHeld();
    this.#textParts = undefined;
    this.#handler.close(info);
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7): queues a Close frame with the
   * error's close code (unless one was sent, or the code is 1006), reports the
   * error, and moves to CLOSED with close code 1006. The transport should be
   * closed once the output is flushed.
   *
   * @param error Why the connection fails.
   */
  fail(error: WebSocketError): void {
    if (this.#state === ReadyState.CLOSED) return;
    if (!this.#closeSent && this.#state === ReadyState.OPEN && error.closeCode !== 1006) {
      this.#closeSent = true;
      // Close reasons on the wire never carry internal error text.
      this.#queue(Opcode.Close, encodeClosePayload(error.closeCode), true, false);
    }
    this.#chunks = [];
    this.#partial = undefined;
    this.#buffered = 0;
    this.#handler.error?.(error);
    this.#finish({ closeCode: 1006, reason: "", wasClean: false });
  }

  /**
   * Marks the connection closed without a closing handshake, e.g. when the
   * transport ended or a timeout fired. Nothing is queued.
   *
   * @param error Optional reason, reported to the handler first.
   */
  abort(error?: WebSocketError): void {
    if (this.#state === ReadyState.CLOSED) return;
    this.#chunks = [];
    this.#partial = undefined;
    this.#buffered = 0;
    if (error) this.#handler.error?.(error);
    this.#finish({ closeCode: 1006, reason: "", wasClean: false });
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2): queues a Close frame and
   * moves to CLOSING. Does nothing once a Close was sent.
   *
   * @param closeCode The status code; omit for an empty Close payload.
   * @param reason The reason, at most 123 bytes of UTF-8.
   * @throws {RangeError} For a code that may not be sent or a reason too long.
   */
  close(closeCode?: number, reason?: string): void {
    const payload = encodeClosePayload(closeCode, reason);
    if (this.#closeSent || this.#state === ReadyState.CLOSED) return;
    if (this.#state === ReadyState.CONNECTING) {
      // RFC 6455 §7.1.7: no frame may precede the end of the opening
      // handshake; closing now just drops the connection.
      this.#finish({ closeCode: 1006, reason: "", wasClean: false });
      return;
    }
    this.#closeSent = true;
    this.#queue(Opcode.Close, payload, true, false);
    this.#state = ReadyState.CLOSING;
  }

  /**
   * Queues a text message as one frame.
   *
   * @param data The text.
   * @throws {WebSocketError} `WS_ERR_NOT_OPEN` unless OPEN.
   */
  sendText(data: string): void {
    this.#assertOpen();
    // Encode straight into the frame buffer when the worst case is small.
    if (data.length <= 16384) {
      const maxHeader = frameHeaderLength(data.length * 3, !this.#server);
      const max = maxHeader + data.length * 3;
      const buffer = this.#room(max)!; // at most 49,166 bytes: always coalesced
      const start = this.#outLen;
      const { written } = encoder.encodeInto(
        data,
        buffer.subarray(start + maxHeader, start + max),
      );
      const headerLength = frameHeaderLength(written, !this.#server);
      if (headerLength < maxHeader) {
        buffer.copyWithin(start + headerLength, start + maxHeader, start + maxHeader + written);
      }
      const frame = buffer.subarray(start, start + headerLength + written);
      this.#writeHeader(frame, Opcode.Text, written, true, false);
      if (!this.#server) mask(frame.subarray(headerLength), this.#outKey);
      this.#outLen += frame.length;
      this.#outSize += frame.length;
      return;
    }
    this.#queue(Opcode.Text, encoder.encode(data), true, false);
  }

  /**
   * Queues a binary message as one frame. `data` is not modified, and is
   * copied: the caller may reuse it at once. With `owned`, the engine takes
   * `data` and its whole buffer instead, and the caller must not touch
   * either again: a frame too large to share an output chunk whose payload
   * has room for the header before it in its buffer (a buffer the pool lent,
   * see `reuseMessageBuffers`) is written from that memory, header included;
   * otherwise a payload of {@linkcode OWNED_MIN} bytes or more is written from
   * it as it is, behind its header in an output chunk of its own. A client
   * masks it in place.
   *
   * @param data The bytes.
   * @param owned Whether `data` is handed over rather than lent.
   * @throws {WebSocketError} `WS_ERR_NOT_OPEN` unless OPEN.
   */
  sendBinary(data: Uint8Array, owned = false): void {
    this.#assertOpen();
    this.#queue(Opcode.Binary, data, true, false, owned);
  }

  /**
   * Queues one data frame, for fragmented or compressed messages. The caller
   * keeps the fragment sequence valid (first frame Text or Binary, then
   * Continuation frames, the last with `fin`).
   *
   * @param opcode Text, Binary or Continuation.
   * @param payload The payload; not modified.
   * @param options FIN and RSV1.
   * @throws {WebSocketError} `WS_ERR_NOT_OPEN` unless OPEN.
   */
  sendFrame(opcode: number, payload: Uint8Array, options: SendFrameOptions = {}): void {
    this.#assertOpen();
    if (opcode !== Opcode.Text && opcode !== Opcode.Binary && opcode !== Opcode.Continuation) {
      throw new TypeError(`Not a data opcode: ${opcode}`);
    }
    this.#queue(opcode, payload, options.fin ?? true, options.rsv1 ?? false, options.owned);
  }

  /**
   * Queues a Ping (RFC 6455 §5.5.2).
   *
   * @param payload Application data, at most 125 bytes.
   * @throws {RangeError} If the payload is longer than 125 bytes.
   * @throws {WebSocketError} `WS_ERR_NOT_OPEN` unless OPEN.
   */
  ping(payload: Uint8Array = EMPTY): void {
    this.#control125(payload);
    this.#queue(Opcode.Ping, payload, true, false);
  }

  /**
   * Queues an unsolicited Pong (RFC 6455 §5.5.3), e.g. as a heartbeat.
   *
   * @param payload Application data, at most 125 bytes.
   * @throws {RangeError} If the payload is longer than 125 bytes.
   * @throws {WebSocketError} `WS_ERR_NOT_OPEN` unless OPEN.
   */
  pong(payload: Uint8Array = EMPTY): void {
    this.#control125(payload);
    this.#queue(Opcode.Pong, payload, true, false);
  }

  #control125(payload: Uint8Array): void {
    if (payload.length > 125) {
      throw new RangeError(`Control frame payload too long: ${payload.length} bytes, at most 125`);
    }
    this.#assertOpen();
  }

  /**
   * Takes the bytes queued for the transport. Small frames are coalesced
   * into one buffer so that everything produced by one read becomes one write.
   *
   * @returns Buffers to write in order (empty when nothing is queued).
   */
  takeOutput(): Uint8Array[] {
    const used = this.#outLen;
    this.#seal();
    const out = this.#out;
    if (out.length === 0) return out;
    this.#out = [];
    this.#outSize = 0;
    if (this.#outBuf.length > OUT_KEEP && used * 4 < this.#outBuf.length) this.#outBuf = EMPTY;
    return out;
  }

  #allocate(size: number): Uint8Array {
    return this.#pooled ? takeBuffer(size) : new Uint8Array(size);
  }

  /**
   * `#outBuf`, with room for `size` more bytes at `#outLen`; `undefined` for
   * a frame too large to coalesce.
   */
  #room(size: number): Uint8Array | undefined {
    if (size > COALESCE_LIMIT) return undefined;
    if (this.#outLen + size > COALESCE_LIMIT) this.#seal();
    const needed = this.#outLen + size;
    if (needed > this.#outBuf.length) {
      const previous = this.#outBuf;
      const grown = this.#allocate(Math.max(OUT_MIN, ceilPow2(needed)));
      grown.set(previous.subarray(0, this.#outLen));
      this.#outBuf = grown;
      if (this.#pooled) giveBack(previous);
    }
    return this.#outBuf;
  }

  /**
   * Moves what `#outBuf` holds to `#out` (the transport writes it later):
   * a copy, or with a pool the buffer itself (the next frame takes another).
   */
  #seal(): void {
    if (this.#outLen === 0) return;
    if (this.#pooled) {
      this.#out.push(this.#outBuf.subarray(0, this.#outLen));
      this.#outBuf = EMPTY;
    } else this.#out.push(this.#outBuf.slice(0, this.#outLen));
    this.#outLen = 0;
  }

  #assertOpen(): void {
    // RFC 6455 §5.5.1: no data frames after a Close frame.
    if (this.#state !== ReadyState.OPEN || this.#closeSent) {
      throw new WebSocketError("WS_ERR_NOT_OPEN", "WebSocket is not open", { closeCode: 1006 });
    }
  }

  #writeHeader(
    frame: Uint8Array,
    opcode: number,
    length: number,
    fin: boolean,
    rsv1: boolean,
  ): void {
    if (this.#server) {
      encodeFrameHeader(frame, 0, opcode, length, { fin, rsv1 });
    } else {
      // RFC 6455 §5.3: a fresh, unpredictable key for every client frame.
      this.#random(this.#outKey);
      encodeFrameHeader(frame, 0, opcode, length, { fin, rsv1, mask: this.#outKey });
    }
  }

  #queue(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean, owned = false): void {
    const length = payload.length;
    const headerLength = frameHeaderLength(length, !this.#server);
    const size = headerLength + length;
    const roomBefore = owned && size > COALESCE_LIMIT && payload.byteOffset >= headerLength;
    if (roomBefore || (owned && length >= OWNED_MIN)) {
      // The payload is ours, written from its own memory.
      let chunk = payload;
      if (roomBefore) {
        // With room before it (a buffer the pool lent, see #payloadBuffer) the
        // header goes there: the one output chunk a copy would have made.
        this.#seal();
        chunk = new Uint8Array(payload.buffer, payload.byteOffset - headerLength, size);
        this.#writeHeader(chunk, opcode, length, fin, rsv1);
      } else {
        // Otherwise the header goes out with the small frames before it: one
        // chunk more instead of a copy.
        const header = this.#room(headerLength)!.subarray(
          this.#outLen,
          this.#outLen + headerLength,
        );
        this.#writeHeader(header, opcode, length, fin, rsv1);
        this.#outLen += headerLength;
        this.#seal();
      }
      if (!this.#server) mask(payload, this.#outKey);
      // A buffer lent by the pool goes back to it after the write only where
      // a resolved write means the transport let go of it (see poolOutput).
      if (!this.#pooled) keepOut(payload);
      this.#out.push(chunk);
      this.#outSize += size;
      return;
    }
    // Otherwise the payload is copied, even when large: the transport writes
    // later, and a caller may reuse its buffer as soon as send() returns (WHATWG
    // WebSocket send() snapshots the data). Copying it behind its header costs
    // the same as a separate snapshot and makes the frame one write, not two.
    const buffer = this.#room(size);
    let frame: Uint8Array;
    if (buffer === undefined) {
      this.#seal();
      frame = this.#allocate(size);
      this.#out.push(frame);
    } else {
      frame = buffer.subarray(this.#outLen, this.#outLen + size);
      this.#outLen += size;
    }
    this.#outSize += size;
    this.#writeHeader(frame, opcode, length, fin, rsv1);
    frame.set(payload, headerLength);
    if (!this.#server) mask(frame.subarray(headerLength), this.#outKey);
    // Copied: a transferred buffer the pool lent can serve the next message.
    if (owned) giveBack(payload);
  }
}

/**
 * Owned payloads (see {@linkcode WebSocketEngine.sendBinary}) with no room
 * for their header before them are written as they are from this size on;
 * smaller ones are copied behind their header.
 * In the echo benchmark a 64 KiB payload written on its own cost more CPU
 * than the copy it saved (63 → 77 µs per echo); at 1 MiB the saved copy
 * outweighs the extra write (bench/README.md).
 */
export const OWNED_MIN = 256 * 1024;

/**
 * Up to this many bytes, text frames that are pure ASCII are turned into a
 * string in JS: a `TextDecoder` call costs a few hundred ns whatever the size
 * (see bench/README.md), more than building a short string here.
 */
const SHORT_TEXT = 32;
const fromCharCode = String.fromCharCode;

/** The string of `bytes` if every byte is ASCII, else `undefined`. */
function asciiString(bytes: Uint8Array): string | undefined {
  const length = bytes.length;
  let or = 0;
  for (let i = 0; i < length; i++) or |= bytes[i];
  if (or > 0x7f) return undefined;
  let text = "";
  let i = 0;
  for (; i + 8 <= length; i += 8) {
    text += fromCharCode(
      bytes[i],
      bytes[i + 1],
      bytes[i + 2],
      bytes[i + 3],
      bytes[i + 4],
      bytes[i + 5],
      bytes[i + 6],
      bytes[i + 7],
    );
  }
  for (; i < length; i++) text += fromCharCode(bytes[i]);
  return text;
}
