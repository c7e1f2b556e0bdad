/**
 * Masking (RFC 6455 §5.3): `mask` and the two word loops it chooses from
 * (`_maskWords64` on V8, `_maskWords32` on JavaScriptCore) against the byte
 * loop `_maskBytewise` (the baseline), in place, at several sizes. Each call XORs
 * the same buffer again; masking costs the same whatever the bytes are.
 * The `+1` cases start one byte past a 4-byte boundary (the view is aligned
 * inside `mask`, with head and tail bytes done one by one).
 *
 * Run: `deno bench bench/mask_bench.ts`.
 *
 * @module
 */

import { mask } from "@edgesocket/core";
import { _maskBytewise, _maskWords32, _maskWords64, _packKey } from "../src/mask.ts";
import { MASK_KEY } from "./_frames.mjs";

const key = new Uint8Array(MASK_KEY);
const packed = _packKey(key);

for (const size of [32, 125, 65536, 1024 * 1024]) {
  for (const offset of [0, 1]) {
    const data = new Uint8Array(size + 8).fill(0x61).subarray(offset, offset + size);
    const label = `${size} B${offset ? " +1" : ""}`;
    const group = `mask ${label}`;
    Deno.bench({ name: `_maskBytewise ${label}`, group, baseline: true }, () => {
      _maskBytewise(data, key);
    });
    Deno.bench({ name: `mask ${label}`, group }, () => {
      mask(data, key);
    });
    Deno.bench({ name: `_maskWords64 ${label}`, group }, () => {
      _maskWords64(data, packed);
    });
    Deno.bench({ name: `_maskWords32 ${label}`, group }, () => {
      _maskWords32(data, packed);
    });
  }
}
