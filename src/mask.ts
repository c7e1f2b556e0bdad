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
  const length = data.length;
  if (length < 64) {
    // Short payloads: creating a word view costs more than it saves.
    const k0 = key[0], k1 = key[1], k2 = key[2], k3 = key[3];
    const end = length & ~3;
    let i = 0;
    for (; i < end; i += 4) {
      data[i] ^= k0;
      data[i + 1] ^= k1;
      data[i + 2] ^= k2;
      data[i + 3] ^= k3;
    }
    for (; i < length; i++) data[i] ^= key[i & 3];
    return;
  }
  // Bytes before the first 4-byte boundary of the underlying buffer.
  const head = (4 - (data.byteOffset & 3)) & 3;
  for (let i = 0; i < head; i++) data[i] ^= key[i & 3];
  const words = (length - head) >>> 2;
  // Int32 (not Uint32) keeps every value a small integer in V8: no heap numbers.
  const view = new Int32Array(data.buffer, data.byteOffset + head, words);
  const k0 = key[head & 3], k1 = key[(head + 1) & 3], k2 = key[(head + 2) & 3];
  const k3 = key[(head + 3) & 3];
  const word = LITTLE_ENDIAN
    ? k0 | (k1 << 8) | (k2 << 16) | (k3 << 24)
    : (k0 << 24) | (k1 << 16) | (k2 << 8) | k3;
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
  for (let i = head + (words << 2); i < length; i++) data[i] ^= key[i & 3];
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
