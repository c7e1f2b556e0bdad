/**
 * Byte helpers shared by the engine, the connection and the compression extension.
 *
 * @module
 */

/**
 * The smallest power of two ≥ `n`, for `n` ≥ 1 (a buffer size class).
 *
 * @param n The size.
 * @returns The power of two.
 */
export function ceilPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

/**
 * Concatenates `parts` into one new buffer of `size` bytes.
 *
 * @param parts The buffers, in order.
 * @param size Their total length.
 * @returns The joined bytes.
 */
export function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
