/**
 * Byte helpers shared by the engine and the compression extension.
 *
 * @module
 */

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
