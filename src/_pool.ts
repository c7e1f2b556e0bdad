/**
 * Output buffers shared by every connection in the process, handed back
 * once their bytes are written; also the receive buffers of large text
 * messages (decoded, then handed back) and, with `reuseMessageBuffers`, of
 * large binary ones (handed back when the message handlers return). A fresh
 * `Uint8Array` is zero-filled and its pages are cold; at 64 KiB per message
 * that costs more than the copy into it (bench/README.md). For output, only
 * transports that promise a write has released its bytes when it resolves
 * (see `DirectTransport.write`) use the pool.
 *
 * Bounded by bytes: at most {@linkcode OutputPoolOptions.maxIdleBytes} idle
 * in all (32 MiB by default); buffers above 4 MiB are never pooled. An
 * idle connection holds none. There is no count per class: buffers come back
 * in bursts as a transport drains, as many as were in flight (Deno's
 * node:net had 30–500 of 128 KiB out at once in the echo benchmark), and a
 * per-class count of 8 threw most of them away.
 *
 * @module
 */

/** The smallest class: 1 KiB. */
const MIN_SHIFT = 10;
/** The largest pooled class: 4 MiB. */
const MAX_SHIFT = 22;
/** Default for {@linkcode OutputPoolOptions.maxIdleBytes}: 32 MiB. */
const DEFAULT_MAX_IDLE_BYTES = 32 * 1024 * 1024;
let maxIdleBytes = DEFAULT_MAX_IDLE_BYTES;

const idle: ArrayBuffer[][] = [];
for (let shift = 0; shift <= MAX_SHIFT; shift++) idle.push([]);
let idleBytes = 0;
/** Buffers this pool made (only these are taken back), each `true` while idle. */
const made = new WeakMap<ArrayBuffer, boolean>();

/** The class (log2 of the buffer size) that holds `size` bytes. */
function classOf(size: number): number {
  return size <= 1 << MIN_SHIFT ? MIN_SHIFT : 32 - Math.clz32(size - 1);
}

/**
 * A view of exactly `size` bytes over a pooled buffer, or a fresh one. Its
 * contents are not zeroed: the caller writes every byte before handing it out.
 *
 * @param size Bytes needed.
 * @returns The view.
 */
export function takeBuffer(size: number): Uint8Array {
  if (size > 1 << MAX_SHIFT) return new Uint8Array(size);
  const shift = classOf(size);
  const buffer = idle[shift].pop();
  if (buffer === undefined) {
    const fresh = new ArrayBuffer(1 << shift);
    made.set(fresh, false);
    return new Uint8Array(fresh, 0, size);
  }
  made.set(buffer, false);
  idleBytes -= buffer.byteLength;
  return new Uint8Array(buffer, 0, size);
}

/**
 * Hands a buffer from {@linkcode takeBuffer} back once nothing refers to its
 * bytes any more. Buffers the pool did not make are ignored.
 *
 * @param view A view returned by `takeBuffer` (or a subarray of one starting at 0).
 */
export function giveBack(view: Uint8Array): void {
  const buffer = view.buffer as ArrayBuffer;
  const size = buffer.byteLength;
  const shift = 31 - Math.clz32(size);
  // `made.get` is `undefined` for a foreign buffer and `true` for one already idle.
  if (
    view.byteOffset !== 0 || made.get(buffer) !== false || shift < MIN_SHIFT ||
    shift > MAX_SHIFT || idleBytes + size > maxIdleBytes
  ) return;
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
 * in, among other messages and bytes still to parse).
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
  let moved: ArrayBuffer;
  try {
    moved = detach(taken);
  } catch (cause) {
    throw new TypeError(`The buffer cannot be transferred: ${(cause as Error).message}`, {
      cause,
    });
  }
  // Node 20's structuredClone copies a buffer it cannot detach, without a word.
  if (taken.byteLength !== 0) {
    throw new TypeError("The buffer cannot be transferred: it cannot be detached");
  }
  if (lent) carryMark(taken, moved);
  return new Uint8Array(moved, byteOffset, length);
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
 * socket also receives large text messages (and, with `reuseMessageBuffers`,
 * large binary ones) into buffers of this pool. Lowering the bound
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
      idleBytes -= buffer.byteLength;
    }
  }
}
