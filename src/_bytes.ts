/**
 * Byte helpers shared by the engine, the connection, the socket and the compression extension.
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

/**
 * A message to keep past the call that delivered it: a borrowed buffer
 * (`reuseMessageBuffers`: valid only during that call) is copied, anything
 * else is already the receiver's.
 *
 * @param data The message as delivered.
 * @param borrowed Whether it was lent for the call only.
 * @returns `data`, or a copy of it.
 */
export function keepable<T extends string | Uint8Array>(data: T, borrowed?: boolean): T {
  return borrowed ? (data as Uint8Array).slice() as T : data;
}
