/**
 * Payload masking (RFC 6455 §5.3): XOR with a 4-byte key, 64 or 32 bits at a time.
 *
 * @module
 */

import { JAVASCRIPTCORE } from "./_jsc.ts";

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
  maskWith(data, _packKey(key));
}

/**
 * A 4-byte masking key packed as {@linkcode maskWith} takes it.
 *
 * @param key The 4-byte key.
 * @returns `key[0] | key[1] << 8 | key[2] << 16 | key[3] << 24`.
 */
export function _packKey(key: Uint8Array): number {
  return key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24);
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
    xorBytes(data, key, i, length);
    return;
  }
  if (WIDE_WORDS) _maskWords64(data, key);
  else _maskWords32(data, key);
}

/**
 * Whether XOR on `BigInt64Array` elements is the fast loop here. V8 (Node,
 * Deno, Workers) compiles it to 64-bit machine words: about twice the
 * `Int32Array` loop at 1 KiB to 1 MiB (bench/README.md). JavaScriptCore
 * (Bun) makes a heap BigInt per element, ~70× slower, so it keeps the
 * 32-bit loop.
 */
const WIDE_WORDS = !JAVASCRIPTCORE;

/**
 * XOR with the key 64 bits at a time through a `BigInt64Array` view
 * aligned on the underlying buffer; head and tail bytes one by one. What
 * {@linkcode maskWith} uses on V8 for 64 bytes and more; exported for tests
 * and benchmarks.
 *
 * @param data The bytes to mask or unmask, modified in place.
 * @param key The packed key, as for {@linkcode maskWith}.
 */
export function _maskWords64(data: Uint8Array, key: number): void {
  const length = data.length;
  // Bytes before the first 8-byte boundary of the underlying buffer.
  const head = Math.min((8 - (data.byteOffset & 7)) & 7, length);
  xorBytes(data, key, 0, head);
  const words = (length - head) >>> 3;
  if (words > 0) {
    const view = new BigInt64Array(data.buffer, data.byteOffset + head, words);
    const half = BigInt(wordFor(key, head) >>> 0);
    const word = BigInt.asIntN(64, (half << 32n) | half);
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
  }
  xorBytes(data, key, head + words * 8, length);
}

/**
 * XOR with the key 32 bits at a time through an `Int32Array` view aligned on
 * the underlying buffer; head and tail bytes one by one. Kept apart from
 * {@linkcode _maskWords64} on purpose: one loop over both array types would
 * make its element access polymorphic, which the JIT compiles worse. What
 * {@linkcode maskWith} uses on JavaScriptCore for 64 bytes and more; exported
 * for tests and benchmarks.
 *
 * @param data The bytes to mask or unmask, modified in place.
 * @param key The packed key, as for {@linkcode maskWith}.
 */
export function _maskWords32(data: Uint8Array, key: number): void {
  const length = data.length;
  // Bytes before the first 4-byte boundary of the underlying buffer.
  const head = Math.min((4 - (data.byteOffset & 3)) & 3, length);
  xorBytes(data, key, 0, head);
  const words = (length - head) >>> 2;
  if (words > 0) {
    // Int32 (not Uint32) keeps every value a small integer in V8: no heap numbers.
    const view = new Int32Array(data.buffer, data.byteOffset + head, words);
    const word = wordFor(key, head);
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
  }
  xorBytes(data, key, head + (words << 2), length);
}

/** Masks `data[from..to)` one byte at a time (payload offsets, so key byte `i & 3`). */
function xorBytes(data: Uint8Array, key: number, from: number, to: number): void {
  for (let i = from; i < to; i++) data[i] ^= (key >>> ((i & 3) << 3)) & 0xff;
}

/**
 * The key as one machine-order 32-bit word lined up with an aligned word
 * that starts `head` bytes into the payload: rotated by `head` bytes.
 */
function wordFor(key: number, head: number): number {
  const shift = (head & 3) << 3;
  const rotated = shift === 0 ? key | 0 : (key >>> shift) | (key << (32 - shift));
  return LITTLE_ENDIAN ? rotated : byteSwap(rotated);
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
