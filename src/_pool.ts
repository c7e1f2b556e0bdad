/**
 * Output buffers shared by every connection in the process, handed back
 * once their bytes are written; also the receive buffers of large text
 * messages (decoded, then handed back) and, with `reuseMessageBuffers`, of
 * large binary ones (handed back when the message handlers return); of the
 * large fragments of a binary message, handed back once the message is
 * joined; on Bun also of binary ones of 256 KiB and more, each copied into
 * a buffer of its own once complete (`STAGE_MIN` in engine.ts). A fresh
 * `Uint8Array` is zero-filled and its pages are cold; at 64 KiB per message
 * that costs more than the copy into it (bench/README.md). For output, only
 * transports that promise a write has released its bytes when it resolves
 * (see `DirectTransport.write`) use the pool.
 *
 * Buffers come in classes of a power of two from 1 KiB to 4 MiB, plus
 * {@linkcode HEADROOM} bytes (room for a frame header before a payload).
 * Bounded by bytes: at most {@linkcode OutputPoolOptions.maxIdleBytes} idle
 * in all (32 MiB by default); larger buffers are never pooled. An
 * idle connection holds none. There is no count per class: buffers come back
 * in bursts as a transport drains, as many as were in flight (Deno's
 * node:net had 30–500 of 128 KiB out at once in the echo benchmark), and a
 * per-class count of 8 threw most of them away.
 *
 * @module
 */

import { JAVASCRIPTCORE } from "./_jsc.ts";

/** The smallest class: 1 KiB. */
const MIN_SHIFT = 10;
/** The largest pooled class: 4 MiB. */
const MAX_SHIFT = 22;
/** Default for {@linkcode OutputPoolOptions.maxIdleBytes}: 32 MiB. */
const DEFAULT_MAX_IDLE_BYTES = 32 * 1024 * 1024;
let maxIdleBytes = DEFAULT_MAX_IDLE_BYTES;

const idle: ArrayBuffer[][] = [];
for (let shift = 0; shift <= MAX_SHIFT; shift++) idle.push([]);
/** Bytes idle, each buffer counted as its class's power of two (without the headroom). */
let idleBytes = 0;
/** Buffers this pool made (only these are taken back), each `true` while idle. */
const made = new WeakMap<ArrayBuffer, boolean>();

/**
 * Bytes kept free before a payload taken with `headroom` (see
 * {@linkcode takeBuffer}): room for its frame header, which is at most 14
 * bytes (RFC 6455 §5.2), rounded to keep the payload 8-byte aligned. Every
 * pooled buffer is a power of two plus this, so that a payload of a power of
 * two with its header, or with room for one, stays in that power's class
 * (a 64 KiB message's frame is 65,540 bytes).
 */
export const HEADROOM = 16;

/**
 * The largest buffer the pool makes: {@linkcode takeBuffer} serves a size
 * (with its headroom) up to this from the pool, and a larger one with a
 * fresh buffer that is never pooled.
 */
export const POOLED_MAX: number = (1 << MAX_SHIFT) + HEADROOM;

/**
 * Whether detaching a buffer copies its bytes: JavaScriptCore (Bun) makes
 * `transfer()`, and a transferring `structuredClone`, a copy into fresh
 * memory (14 µs per MiB here, and that memory's page faults under load), where
 * V8 moves the memory (0.25 µs whatever the size).
 */
const DETACH_COPIES = JAVASCRIPTCORE;

/**
 * The headroom of a buffer lent by `reuseMessageBuffers`: {@linkcode HEADROOM},
 * so that a message sent on with `transfer` goes out from it header included;
 * none on JavaScriptCore, where sending it on copies it anyway and where a
 * lent view 16 bytes into its buffer measured 1.27× the CPU per 1 MiB echo
 * (Bun 1.4, `node:http`, 1 MiB × 256 connections, 5 alternating runs each;
 * the same runs' micro steps, copy in, unmask, copy out, `transfer()`, cost
 * the same at either offset: cause not located).
 */
export const LENT_HEADROOM: number = DETACH_COPIES ? 0 : HEADROOM;

/** The class (log2 of the buffer size less {@linkcode HEADROOM}) that holds `size` bytes. */
function classOf(size: number): number {
  const bulk = size - HEADROOM;
  return bulk <= 1 << MIN_SHIFT ? MIN_SHIFT : 32 - Math.clz32(bulk - 1);
}

/**
 * A view of exactly `size` bytes over a pooled buffer, or a fresh one. Its
 * contents are not zeroed: the caller writes every byte before handing it out.
 *
 * @param size Bytes needed.
 * @param headroom Bytes of the buffer to leave free before the view, for a
 *   frame header to be written in front of the bytes later (at most
 *   {@linkcode HEADROOM} is ever needed).
 * @returns The view.
 */
export function takeBuffer(size: number, headroom = 0): Uint8Array {
  const total = size + headroom;
  if (total > POOLED_MAX) return new Uint8Array(total).subarray(headroom);
  const shift = classOf(total);
  let buffer = idle[shift].pop();
  if (buffer === undefined) buffer = new ArrayBuffer((1 << shift) + HEADROOM);
  else idleBytes -= 1 << shift;
  made.set(buffer, false);
  return new Uint8Array(buffer, headroom, size);
}

/**
 * Hands a buffer from {@linkcode takeBuffer} back once nothing refers to its
 * bytes any more. Buffers the pool did not make are ignored. Any view of the
 * buffer will do: the pool's buffers are never shared, each is one payload,
 * one frame or one output chunk at a time.
 *
 * @param view A view of a buffer returned by `takeBuffer`.
 */
export function giveBack(view: Uint8Array): void {
  const buffer = view.buffer as ArrayBuffer;
  // The pool makes buffers of its classes' sizes only.
  const size = buffer.byteLength - HEADROOM;
  // `made.get` is `undefined` for a foreign buffer and `true` for one already idle.
  if (made.get(buffer) !== false || idleBytes + size > maxIdleBytes) return;
  const shift = 31 - Math.clz32(size);
  made.set(buffer, true);
  idle[shift].push(buffer);
  idleBytes += size;
}

/**
 * Moves a buffer's memory into a new `ArrayBuffer` and detaches it (views of
 * it then read as empty): `ArrayBuffer.prototype.transfer` (ES2024: Deno, Bun,
 * Node 21+; ~0.25 µs in V8), else a transferring `structuredClone` (Node 20:
 * ~1 µs, no copy); `undefined` where neither exists.
 */
const detach: ((buffer: ArrayBuffer) => ArrayBuffer) | undefined =
  typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === "function"
    ? (buffer) => (buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer()
    : typeof structuredClone === "function"
    ? (buffer) => structuredClone(buffer, { transfer: [buffer] })
    : undefined;

/**
 * Like {@linkcode giveBack}, for a buffer that was lent to code that must not
 * keep it: its memory goes back to the pool in a new `ArrayBuffer` and the
 * lent one is detached, so a view kept by mistake reads as empty instead of
 * as whatever the buffer holds next (where the runtime cannot detach, it is
 * simply given back).
 *
 * @param view A view returned by `takeBuffer`, as lent.
 */
export function giveBackLent(view: Uint8Array): void {
  if (detach === undefined) {
    giveBack(view);
    return;
  }
  const taken = view.buffer as ArrayBuffer;
  // Already detached: the handler sent it on with `transfer` (see transferBuffer).
  if (taken.byteLength === 0) return;
  const moved = detach(taken);
  // A buffer too large to pool is detached all the same, then let go.
  if (made.get(taken) !== false) return;
  carryMark(taken, moved);
  giveBack(new Uint8Array(moved));
}

/** The pool's books follow a taken-out buffer's memory into the buffer it moved to. */
function carryMark(taken: ArrayBuffer, moved: ArrayBuffer): void {
  made.delete(taken);
  made.set(moved, false);
}

/**
 * Takes the memory of `view`'s buffer for a send with `transfer`, when the
 * view covers the whole buffer or the pool lent it: detaches the buffer, as
 * `postMessage`'s transfer list does, and returns a view of the same bytes
 * over the new one. A buffer the pool lent (`reuseMessageBuffers`) stays the
 * pool's: given back after the write, it is reused. A view of part of some
 * other buffer is left alone (`undefined`): the rest of that buffer may hold
 * other data (a received message can be a view into the chunk it was read
 * in, among other messages and bytes still to parse). Where detaching
 * copies (JavaScriptCore), a whole buffer's bytes are copied into a pooled
 * buffer, with {@linkcode HEADROOM} before them, and the buffer is detached
 * without a copy: one copy instead of a copy into fresh memory.
 *
 * @param view The bytes to send.
 * @returns The same bytes, now the sender's alone; `undefined` if not taken.
 * @throws {TypeError} If the buffer cannot be detached: a
 *   `SharedArrayBuffer`, a `WebAssembly.Memory`'s buffer, or any on a
 *   runtime that cannot detach at all.
 */
export function transferBuffer(view: Uint8Array): Uint8Array | undefined {
  const taken = view.buffer;
  if (!(taken instanceof ArrayBuffer) || detach === undefined) {
    throw new TypeError(
      detach === undefined
        ? "This runtime cannot transfer an ArrayBuffer"
        : "A SharedArrayBuffer cannot be transferred",
    );
  }
  // Read before detaching: a detached view has length 0.
  const { byteOffset, length } = view;
  const lent = made.get(taken) === false;
  if (!lent && (byteOffset !== 0 || length !== taken.byteLength)) return undefined;
  if (!lent && DETACH_COPIES) {
    // The copy goes where send() would have copied the bytes anyway, into a
    // pooled buffer with room for the frame header; then the caller's buffer
    // is detached by a zero-length transfer, which copies nothing.
    const copy = takeBuffer(length, HEADROOM);
    copy.set(view);
    try {
      detachOnly(taken);
    } catch (cause) {
      giveBack(copy);
      throw cause;
    }
    return copy;
  }
  let moved: ArrayBuffer;
  try {
    moved = detach(taken);
  } catch (cause) {
    throw cannotTransfer(cause);
  }
  // Node 20's structuredClone copies a buffer it cannot detach, without a word.
  if (taken.byteLength !== 0) {
    throw new TypeError("The buffer cannot be transferred: it cannot be detached");
  }
  if (lent) carryMark(taken, moved);
  return new Uint8Array(moved, byteOffset, length);
}

/** Detaches `buffer`, dropping its bytes: a transfer to length 0 moves nothing. */
function detachOnly(buffer: ArrayBuffer): void {
  try {
    (buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
  } catch (cause) {
    throw cannotTransfer(cause);
  }
}

function cannotTransfer(cause: unknown): TypeError {
  return new TypeError(`The buffer cannot be transferred: ${(cause as Error).message}`, {
    cause,
  });
}

/**
 * Takes a buffer from the pool's books for good: given back later, it is
 * ignored. For a transferred lent buffer that leaves through a transport
 * which may still hold its bytes after its write resolves.
 *
 * @param view A view of the buffer.
 */
export function keepOut(view: Uint8Array): void {
  made.delete(view.buffer as ArrayBuffer);
}

/** Process-wide settings of the output buffer pool. */
export interface OutputPoolOptions {
  /**
   * Most bytes of idle buffers kept for reuse, over every connection in the
   * process. Default: 32 MiB. `0` keeps none: every large frame then gets a
   * fresh (zero-filled) buffer.
   */
  maxIdleBytes?: number;
}

/**
 * Sets the bounds of the output buffer pool that codec-backed sockets on a
 * direct transport (node:http, `Deno.listen`) share: after a burst of large
 * messages, up to `maxIdleBytes` of their frame buffers stay for the next
 * burst instead of being allocated (zero-filled) again. Every codec-backed
 * socket also receives large text messages, the large fragments of binary
 * ones (and, with `reuseMessageBuffers`, large binary ones; on Bun, binary
 * ones of 256 KiB and more, each then copied into a buffer of its own) into
 * buffers of this pool. Lowering the bound
 * lets go of the idle buffers over it at once.
 *
 * @param options The bounds; a field left out returns to its default.
 * @throws {RangeError} If `maxIdleBytes` is not a non-negative integer.
 *
 * @example Keep at most 4 MiB of idle output buffers
 * ```ts
 * import { configureOutputPool } from "@edgesocket/core";
 *
 * configureOutputPool({ maxIdleBytes: 4 * 1024 * 1024 });
 * configureOutputPool({}); // back to the default, 32 MiB
 * ```
 */
export function configureOutputPool(options: OutputPoolOptions): void {
  const bytes = options.maxIdleBytes ?? DEFAULT_MAX_IDLE_BYTES;
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new RangeError(`maxIdleBytes must be a non-negative integer: got ${bytes}`);
  }
  maxIdleBytes = bytes;
  // Largest first: the fewest buffers dropped to get under the bound.
  for (let shift = MAX_SHIFT; shift >= MIN_SHIFT && idleBytes > maxIdleBytes; shift--) {
    const list = idle[shift];
    while (list.length > 0 && idleBytes > maxIdleBytes) {
      const buffer = list.pop()!;
      made.delete(buffer);
      idleBytes -= 1 << shift;
    }
  }
}
