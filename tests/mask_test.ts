import assert from "node:assert/strict";
import { _maskBytewise, _maskWords32, _maskWords64, _packKey, mask } from "../src/mask.ts";
import { hex, toHex } from "./_fixtures.ts";

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (random() * 256) | 0;
  return out;
}

Deno.test("RFC 6455 §5.3: masks the §5.7 example", () => {
  const data = hex("48 65 6c 6c 6f");
  mask(data, hex("37 fa 21 3d"));
  assert.equal(toHex(data), "7f 9f 4d 51 58");
});

/** `mask` and both word loops (each runtime's `mask` uses one of them from 64 bytes). */
const MASKERS: readonly [string, (data: Uint8Array, key: Uint8Array) => void][] = [
  ["mask", mask],
  ["_maskWords64", (data, key) => _maskWords64(data, _packKey(key))],
  ["_maskWords32", (data, key) => _maskWords32(data, _packKey(key))],
];

for (const [name, masker] of MASKERS) {
  Deno.test(`RFC 6455 §5.3: ${name} equals the bytewise loop on unaligned views of every length 0..300`, () => {
    const random = prng(6455);
    for (let length = 0; length <= 300; length++) {
      for (let byteOffset = 0; byteOffset <= 7; byteOffset++) {
        const key = randomBytes(random, 4);
        // The view sits inside a larger buffer: the bytes around it must stay untouched.
        const backing = randomBytes(random, byteOffset + length + 9);
        const expected = backing.slice();
        _maskBytewise(expected.subarray(byteOffset, byteOffset + length), key);
        const actual = backing.slice();
        masker(actual.subarray(byteOffset, byteOffset + length), key);
        assert.deepEqual(actual, expected, `length ${length}, byteOffset ${byteOffset}`);
      }
    }
  });

  Deno.test(`RFC 6455 §5.3: ${name} equals the bytewise loop on 1 MiB, aligned and not`, () => {
    const random = prng(42);
    const key = randomBytes(random, 4);
    const backing = randomBytes(random, (1 << 20) + 8);
    for (const byteOffset of [0, 1, 3, 4, 5, 7]) {
      const expected = backing.slice();
      _maskBytewise(expected.subarray(byteOffset, byteOffset + (1 << 20)), key);
      const actual = backing.slice();
      masker(actual.subarray(byteOffset, byteOffset + (1 << 20)), key);
      const wrong = actual.findIndex((byte, i) => byte !== expected[i]);
      assert.equal(wrong, -1, `byteOffset ${byteOffset}: first wrong byte at ${wrong}`);
    }
  });
}

Deno.test("RFC 6455 §5.3: masking twice restores the data", () => {
  const random = prng(7);
  const data = randomBytes(random, 1000);
  const original = data.slice();
  const key = randomBytes(random, 4);
  mask(data.subarray(3), key);
  assert.notDeepEqual(data, original);
  mask(data.subarray(3), key);
  assert.deepEqual(data, original);
});

Deno.test("RFC 6455 §5.3: a zero key is the identity", () => {
  const data = hex(
    "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20 21",
  );
  const original = data.slice();
  mask(data, new Uint8Array(4));
  assert.deepEqual(data, original);
});

Deno.test("RFC 6455 §5.3: a key that is not 4 bytes is a RangeError", () => {
  assert.throws(() => mask(new Uint8Array(8), new Uint8Array(3)), RangeError);
  assert.throws(() => mask(new Uint8Array(64), new Uint8Array(5)), RangeError);
});
