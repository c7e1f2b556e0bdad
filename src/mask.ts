/**
 * Payload masking (RFC 6455 §5.3): XOR with a 4-byte key, word at a time.
 *
 * @module
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XORs `data` in place with the 4-byte masking key (RFC 6455 §5.3). Masking
 * and unmasking are the same operation.
 *
 * The bulk of the payload is processed 32 bits at a time through a
 * `Uint32Array` view aligned on the underlying buffer, so unaligned views are
 * handled too (head and tail bytes go through a byte loop).
 *
 * @param data The bytes to mask or unmask, modified in place.
 * @param key The 4-byte masking key.
 * @throws {RangeError} If `key` is not exactly 4 bytes long.
 *
 * @example Round trip
 * ```ts
 * import { mask } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const data = new TextEncoder().encode("Hello");
 * const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
 * mask(data, key);
 * // RFC 6455 §5.7: masked "Hello"
 * assert.deepEqual([...data], [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
 * mask(data, key);
 * assert.equal(new TextDecoder().decode(data), "Hello");
 * ```
 */
export function mask(data: Uint8Array, key: Uint8Array): void {
  if (key.length !== 4) throw new RangeError(`Masking key must be 4 bytes: got ${key.length}`);
  maskWith(data, key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24));
}

/**
 * {@linkcode mask} with the key packed in one integer, key byte `i` in bits
 * `8i` to `8i + 7` (what the engine keeps per socket instead of a 4-byte array).
 *
 * @param data The bytes to mask or unmask, modified in place.
 * @param key The packed key: `k0 | k1 << 8 | k2 << 16 | k3 << 24`.
 */
export function maskWith(data: Uint8Array, key: number): void {
  const length = data.length;
  if (length < 64) {
    // Short payloads: creating a word view costs more than it saves.
    const k0 = key & 0xff, k1 = (key >>> 8) & 0xff, k2 = (key >>> 16) & 0xff, k3 = key >>> 24;
    const end = length & ~3;
    let i = 0;
    for (; i < end; i += 4) {
      data[i] ^= k0;
      data[i + 1] ^= k1;
      data[i + 2] ^= k2;
      data[i + 3] ^= k3;
    }
    for (; i < length; i++) data[i] ^= (key >>> ((i & 3) << 3)) & 0xff;
    return;
  }
  // Bytes before the first 4-byte boundary of the underlying buffer.
  const head = (4 - (data.byteOffset & 3)) & 3;
  for (let i = 0; i < head; i++) data[i] ^= (key >>> (i << 3)) & 0xff;
  const words = (length - head) >>> 2;
  // Int32 (not Uint32) keeps every value a small integer in V8: no heap numbers.
  const view = new Int32Array(data.buffer, data.byteOffset + head, words);
  // The key as it lines up with the first aligned word: rotated by `head` bytes.
  const rotated = head === 0 ? key | 0 : (key >>> (head << 3)) | (key << ((4 - head) << 3));
  const word = LITTLE_ENDIAN ? rotated : byteSwap(rotated);
  const unrolled = words & ~7;
  let w = 0;
  for (; w < unrolled; w += 8) {
    view[w] ^= word;
    view[w + 1] ^= word;
    view[w + 2] ^= word;
    view[w + 3] ^= word;
    view[w + 4] ^= word;
    view[w + 5] ^= word;
    view[w + 6] ^= word;
    view[w + 7] ^= word;
  }
  for (; w < words; w++) view[w] ^= word;
  for (let i = head + (words << 2); i < length; i++) data[i] ^= (key >>> ((i & 3) << 3)) & 0xff;
}

function byteSwap(word: number): number {
  return ((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24);
}

/**
 * The reference byte-at-a-time masking loop, kept as the benchmark baseline
 * and as the oracle in property tests.
 *
 * @param data The bytes to mask or unmask, modified in place.
 * @param key The 4-byte masking key.
 */
export function _maskBytewise(data: Uint8Array, key: Uint8Array): void {
  for (let i = 0; i < data.length; i++) data[i] ^= key[i & 3];
}
