import assert from "node:assert/strict";
import {
  configureOutputPool,
  giveBack,
  giveBackLent,
  HEADROOM,
  keepOut,
  POOLED_MAX,
  takeBuffer,
  transferBuffer,
} from "../src/_pool.ts";
import { drainPool } from "./_fixtures.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

/** How many of `taken` are over a buffer one of `given` was over: what the pool reused. */
function reused(given: Uint8Array[], taken: Uint8Array[]): number {
  const buffers = new Set(given.map((view) => view.buffer));
  return taken.filter((view) => buffers.has(view.buffer)).length;
}

/** `count` views of `size` bytes, each over its own buffer. */
function takeMany(size: number, count: number): Uint8Array[] {
  const views = Array.from({ length: count }, () => takeBuffer(size));
  assert.equal(new Set(views.map((view) => view.buffer)).size, count, "distinct buffers");
  return views;
}

// ---------------------------------------------------------------------------
// takeBuffer

Deno.test("pool: takeBuffer(size) is a view of exactly size bytes at offset 0 over a buffer of a power of two (1 KiB at least) and HEADROOM bytes", () => {
  const expected: [number, number][] = [
    [0, KIB],
    [1, KIB],
    [1000, KIB],
    [KIB, KIB],
    [KIB + HEADROOM, KIB],
    [KIB + HEADROOM + 1, 2 * KIB],
    [3000, 4 * KIB],
    [64 * KIB, 64 * KIB],
    [64 * KIB + 4, 64 * KIB], // a 64 KiB message's frame
    [64 * KIB + HEADROOM + 1, 128 * KIB],
    [4 * MIB - 1, 4 * MIB],
    [4 * MIB + HEADROOM, 4 * MIB],
  ];
  for (const [size, power] of expected) {
    const view = takeBuffer(size);
    assert.equal(view.length, size, `length for ${size}`);
    assert.equal(view.byteOffset, 0, `offset for ${size}`);
    assert.ok(view.buffer instanceof ArrayBuffer, `ArrayBuffer for ${size}`);
    assert.equal(view.buffer.byteLength, power + HEADROOM, `class for ${size}`);
  }
});

Deno.test("pool: a buffer given back is handed out again by the next takeBuffer of its class, and only of its class", () => {
  drainPool();
  const first = takeBuffer(3000); // 4 KiB class
  first.fill(0xab);
  giveBack(first);
  // Another class does not get it.
  assert.notEqual(takeBuffer(1000).buffer, first.buffer);
  assert.notEqual(takeBuffer(5000).buffer, first.buffer);
  const again = takeBuffer(2100); // same class, another size
  assert.equal(again.buffer, first.buffer);
  assert.equal(again.length, 2100);
  assert.equal(again.byteOffset, 0);
  // Not zeroed: the caller overwrites every byte.
  assert.equal(again[0], 0xab);
  // Handed out: the pool no longer holds it.
  assert.notEqual(takeBuffer(4096).buffer, first.buffer);
  // Given back through a shorter view starting at 0, it is pooled again.
  giveBack(again.subarray(0, 10));
  assert.equal(takeBuffer(4096).buffer, first.buffer);
});

Deno.test("pool: sizes above the 4 MiB class are fresh buffers of exactly that size, never pooled", () => {
  drainPool();
  for (const size of [4 * MIB + HEADROOM + 1, 8 * MIB]) {
    const big = takeBuffer(size);
    assert.equal(big.length, size);
    assert.equal(big.byteOffset, 0);
    assert.equal(big.buffer.byteLength, size);
    giveBack(big);
    assert.notEqual(takeBuffer(size).buffer, big.buffer, `${size} pooled`);
    // Nor does a 4 MiB take get it.
    assert.notEqual(takeBuffer(4 * MIB).buffer, big.buffer, `${size} handed out as 4 MiB`);
  }
  // The largest pooled class is 4 MiB (and the headroom) itself: POOLED_MAX.
  assert.equal(POOLED_MAX, 4 * MIB + HEADROOM);
  const largest = takeBuffer(POOLED_MAX);
  giveBack(largest);
  assert.equal(takeBuffer(4 * MIB - 1).buffer, largest.buffer);
});

// ---------------------------------------------------------------------------
// giveBack: what it ignores

Deno.test("pool: takeBuffer(size, headroom) leaves that many bytes free before the view, in the class of both", () => {
  drainPool();
  const view = takeBuffer(64 * KIB, HEADROOM);
  assert.equal(view.byteOffset, HEADROOM);
  assert.equal(view.length, 64 * KIB);
  // A power of two and the headroom fit its class.
  assert.equal(view.buffer.byteLength, 64 * KIB + HEADROOM);
  assert.equal(takeBuffer(64 * KIB + 1, HEADROOM).buffer.byteLength, 128 * KIB + HEADROOM);
  const small = takeBuffer(100, HEADROOM);
  assert.deepEqual([small.byteOffset, small.length, small.buffer.byteLength], [
    HEADROOM,
    100,
    KIB + HEADROOM,
  ]);
  // Past the largest class: a fresh buffer of exactly both.
  const large = takeBuffer(4 * MIB, HEADROOM);
  assert.deepEqual([large.byteOffset, large.buffer.byteLength], [HEADROOM, 4 * MIB + HEADROOM]);
});

Deno.test("pool: any view of a buffer the pool made gives the whole buffer back", () => {
  drainPool();
  const framed = takeBuffer(64 * KIB, HEADROOM);
  // What a frame written in the headroom is: a view starting before the payload.
  giveBack(new Uint8Array(framed.buffer, HEADROOM - 4, 64 * KIB + 4));
  const again = takeBuffer(40 * KIB);
  assert.equal(again.buffer, framed.buffer);
  assert.equal(again.byteOffset, 0);
  giveBack(again.subarray(1000));
  assert.equal(takeBuffer(40 * KIB, HEADROOM).buffer, framed.buffer);
});

Deno.test("pool: giveBack ignores buffers of other sizes than its classes", () => {
  drainPool();
  // 1500 bytes lies between the 1 KiB and 2 KiB classes; 3 KiB between 2 and 4 KiB.
  const odd = new Uint8Array(1500);
  const odd2 = new Uint8Array(3 * KIB);
  giveBack(odd);
  giveBack(odd2);
  for (const size of [KIB, 1500, 2 * KIB, 3 * KIB, 4 * KIB]) {
    const view = takeBuffer(size);
    assert.notEqual(view.buffer, odd.buffer, `1500-byte buffer handed out for ${size}`);
    assert.notEqual(view.buffer, odd2.buffer, `3 KiB buffer handed out for ${size}`);
    assert.equal(view.buffer.byteLength, 2 ** Math.ceil(Math.log2(size)) + HEADROOM);
  }
});

Deno.test("pool: giveBack ignores buffers of a class it does not pool (they count nowhere)", () => {
  drainPool();
  // Power-of-two sizes below 1 KiB and above 4 MiB: if any were kept, they
  // would count against the idle cap and crowd out the 4 MiB buffers below.
  for (let i = 0; i < 8; i++) giveBack(new Uint8Array(512));
  giveBack(new Uint8Array(1));
  giveBack(new Uint8Array(8 * MIB));
  giveBack(new Uint8Array(16 * MIB));
  const large = takeMany(4 * MIB, 4);
  for (const view of large) giveBack(view);
  const again = new Set(takeMany(4 * MIB, 4).map((view) => view.buffer));
  for (const [i, view] of large.entries()) assert.ok(again.has(view.buffer), `4 MiB buffer ${i}`);
  // Nor is a foreign buffer handed out by the smallest class.
  assert.equal(takeBuffer(1).buffer.byteLength, KIB + HEADROOM);
});

Deno.test("pool: a second giveBack of the same buffer is ignored (no duplicates)", () => {
  drainPool();
  const view = takeBuffer(KIB);
  giveBack(view);
  giveBack(view);
  giveBack(view.subarray(0, 100)); // another view of the same buffer
  const first = takeBuffer(KIB);
  const second = takeBuffer(KIB);
  assert.equal(first.buffer, view.buffer);
  assert.notEqual(second.buffer, view.buffer, "the same buffer handed out twice");
});

// ---------------------------------------------------------------------------
// Bounds

Deno.test("pool: no count per class: a burst of 300 buffers given back at once is all kept for the next burst", () => {
  // 300 × 64 KiB = 18.75 MiB, under the 32 MiB default: a transport that had
  // that many frames in flight gets every buffer back for its next burst.
  drainPool();
  const burst = takeMany(64 * KIB, 300);
  for (const view of burst) giveBack(view);
  assert.equal(reused(burst, takeMany(64 * KIB, 300)), 300);
  // Every one was handed out again: the 301st is fresh.
  assert.equal(reused(burst, [takeBuffer(64 * KIB)]), 0);
});

Deno.test("pool: at most 32 MiB idle in all by default; a take frees its share", () => {
  drainPool();
  const large = takeMany(4 * MIB, 9);
  for (const view of large) giveBack(view); // the ninth would make 36 MiB
  const small = takeBuffer(KIB);
  giveBack(small); // over the cap too
  const first = takeBuffer(4 * MIB);
  assert.equal(reused(large, [first]), 1);
  assert.notEqual(takeBuffer(KIB).buffer, small.buffer, "pooled over the 32 MiB cap");
  // 28 MiB idle now: room for the small one.
  giveBack(small);
  assert.equal(takeBuffer(KIB).buffer, small.buffer, "refused under the cap");
  const rest = takeMany(4 * MIB, 8);
  assert.equal(reused(large, rest), 7);
  assert.ok(!rest.some((view) => view.buffer === first.buffer));
});

// ---------------------------------------------------------------------------
// configureOutputPool

Deno.test("pool: configureOutputPool lowers the idle bound, letting go of what is over it at once", () => {
  drainPool();
  try {
    const large = takeMany(4 * MIB, 4);
    const small = takeMany(KIB, 4);
    for (const view of [...large, ...small]) giveBack(view);
    // 16 MiB + 4 KiB idle; a 6 MiB bound keeps one 4 MiB buffer and the 1 KiB ones.
    configureOutputPool({ maxIdleBytes: 6 * MIB });
    const again = takeMany(4 * MIB, 3);
    assert.equal(reused(large, again), 1);
    assert.equal(reused(small, takeMany(KIB, 4)), 4);
    // The bound holds for what comes back later too.
    for (const view of again) giveBack(view);
    assert.equal(reused(again, takeMany(4 * MIB, 3)), 1);
  } finally {
    configureOutputPool({});
  }
});

Deno.test("pool: configureOutputPool({ maxIdleBytes: 0 }) keeps nothing; {} restores the 32 MiB default", () => {
  drainPool();
  try {
    configureOutputPool({ maxIdleBytes: 0 });
    const view = takeBuffer(KIB);
    giveBack(view);
    assert.notEqual(takeBuffer(KIB).buffer, view.buffer);
    configureOutputPool({});
    const many = takeMany(4 * MIB, 8); // exactly 32 MiB
    for (const each of many) giveBack(each);
    assert.equal(reused(many, takeMany(4 * MIB, 8)), 8);
  } finally {
    configureOutputPool({});
  }
});

Deno.test("pool: configureOutputPool rejects a bound that is not a non-negative integer", () => {
  for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
    assert.throws(() => configureOutputPool({ maxIdleBytes: bad }), RangeError, String(bad));
  }
});

Deno.test("pool: giveBack ignores a buffer the pool did not make, even of a pooled size", () => {
  drainPool();
  const own = new Uint8Array(4 * KIB);
  giveBack(own);
  const taken = takeBuffer(4 * KIB);
  assert.notEqual(taken.buffer, own.buffer, "a caller's own buffer must never be handed out");
});

Deno.test("pool: sizes beyond 32 bits are fresh buffers, not a wrapped-around class", () => {
  // classOf works on 32-bit integers: 2^32 + 2000 must not land in the 2 KiB class.
  // Only the size arithmetic is exercised: the allocation itself may fail on small machines.
  const size = 2 ** 32 + 2000;
  try {
    assert.equal(takeBuffer(size).length, size);
  } catch (error) {
    assert.ok(error instanceof RangeError, `only an allocation failure is acceptable: ${error}`);
    assert.doesNotMatch(String(error), /Invalid typed array length: 4294969296/);
  }
});

// ---------------------------------------------------------------------------
// giveBackLent

Deno.test("pool: giveBackLent detaches the lent view; its memory serves the next take", () => {
  drainPool();
  const lent = takeBuffer(64 * KIB);
  lent.fill(0x5a);
  giveBackLent(lent);
  assert.equal(lent.byteLength, 0, "the lent view is detached");
  // Pooled memory is not zeroed: the next take of the class shows the lent bytes.
  const next = takeBuffer(64 * KIB);
  assert.ok(next.every((byte) => byte === 0x5a), "the same memory, in a new buffer");
  // A buffer too large to pool is detached too, and not taken again.
  const large = takeBuffer(4 * MIB + 1);
  giveBackLent(large);
  assert.equal(large.byteLength, 0);
  assert.equal(reused([large], [takeBuffer(4 * MIB + 1)]), 0);
});

// ---------------------------------------------------------------------------
// transferBuffer (send with transfer)

Deno.test("pool: transferBuffer detaches a whole buffer and returns the same bytes over a new one", () => {
  const whole = new Uint8Array(10 * KIB).map((_, i) => i & 0xff);
  const alias = new Uint8Array(whole.buffer, 5);
  const moved = transferBuffer(whole)!;
  assert.equal(whole.byteLength, 0, "detached");
  assert.equal(alias.byteLength, 0, "every view of it");
  assert.equal(moved.length, 10 * KIB);
  assert.ok(moved.every((byte, i) => byte === (i & 0xff)), "the same bytes");
});

Deno.test("pool: transferBuffer leaves a view of part of a buffer alone, unless the pool lent it", () => {
  const bytes = new Uint8Array(10 * KIB);
  for (const part of [bytes.subarray(1), bytes.subarray(0, 10 * KIB - 1)]) {
    assert.equal(transferBuffer(part), undefined);
    assert.equal(bytes.byteLength, 10 * KIB, "still attached");
  }
  // A lent 100 KiB message sits in a 128 KiB buffer: the pool's, taken all the same.
  const lent = takeBuffer(100 * KIB);
  lent.fill(9);
  const moved = transferBuffer(lent)!;
  assert.equal(lent.byteLength, 0);
  assert.equal(moved.length, 100 * KIB);
  assert.ok(moved.every((byte) => byte === 9));
});

Deno.test("pool: transferBuffer throws a TypeError for buffers that cannot be detached, which stay usable", () => {
  const shared = new Uint8Array(new SharedArrayBuffer(64));
  assert.throws(() => transferBuffer(shared), TypeError);
  shared[0] = 1;
  assert.equal(shared[0], 1);
  const memory = new WebAssembly.Memory({ initial: 1 });
  const wasm = new Uint8Array(memory.buffer);
  assert.throws(() => transferBuffer(wasm), TypeError);
  wasm[0] = 2;
  assert.equal(new Uint8Array(memory.buffer)[0], 2);
});

Deno.test("pool: a lent buffer transferred stays the pool's; giveBackLent then leaves it alone", () => {
  drainPool();
  const lent = takeBuffer(64 * KIB);
  const moved = transferBuffer(lent)!;
  giveBackLent(lent); // the handler returned: already detached, nothing to take back
  assert.equal(reused([moved], [takeBuffer(64 * KIB)]), 0, "not idle while being written");
  giveBack(moved); // written
  assert.equal(reused([moved], [takeBuffer(64 * KIB)]), 1);
  // keepOut takes one off the books for good.
  const kept = transferBuffer(takeBuffer(64 * KIB))!;
  keepOut(kept);
  giveBack(kept);
  assert.equal(reused([kept], [takeBuffer(64 * KIB)]), 0);
});
