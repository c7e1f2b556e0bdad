/**
 * Output buffers shared by every connection in the process, handed back
 * once their bytes are written. A fresh `Uint8Array` is zero-filled and its
 * pages are cold; at 64 KiB per message that costs more than the copy into
 * it (bench/README.md). Only transports that promise a write has released
 * its bytes when it resolves (see `DirectTransport.write`) use the pool.
 *
 * Bounded: at most `PER_CLASS` idle buffers per power-of-two size class and
 * `MAX_IDLE_BYTES` in all; buffers above `MAX_CLASS` are never pooled. An
 * idle connection holds none.
 *
 * @module
 */

/** The smallest class: 1 KiB. */
const MIN_SHIFT = 10;
/** The largest pooled class: 4 MiB. */
const MAX_SHIFT = 22;
const PER_CLASS = 8;
const MAX_IDLE_BYTES = 16 * 1024 * 1024;

const idle: ArrayBuffer[][] = [];
for (let shift = 0; shift <= MAX_SHIFT; shift++) idle.push([]);
let idleBytes = 0;
/** Buffers this pool made: only these are taken back. */
const made = new WeakSet<ArrayBuffer>();

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
    made.add(fresh);
    return new Uint8Array(fresh, 0, size);
  }
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
  if (
    view.byteOffset !== 0 || !made.has(buffer) || shift < MIN_SHIFT || shift > MAX_SHIFT ||
    idleBytes + size > MAX_IDLE_BYTES
  ) return;
  const list = idle[shift];
  if (list.length >= PER_CLASS || list.includes(buffer)) return;
  list.push(buffer);
  idleBytes += size;
}
