// Probe: does DecompressionStream("deflate-raw") emit output per written chunk
// (eagerly), and does CompressionStream("deflate-raw") flush per write?
// Runs unchanged under Deno, Node >= 20 and Bun:
//   deno run bench/deflate_probe.mjs | node bench/deflate_probe.mjs | bun bench/deflate_probe.mjs
const runtime = typeof Deno !== "undefined"
  ? `deno ${Deno.version.deno}`
  : typeof Bun !== "undefined"
  ? `bun ${Bun.version}`
  : `node ${process.version}`;
const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
const withTimeout = (promise, ms) =>
  Promise.race([promise, new Promise((r) => setTimeout(() => r("timeout"), ms))]);

// A read still pending at a timeout is kept for the next call, so no output is lost.
const pending = new WeakMap();
async function readAvailable(reader, ms) {
  const chunks = [];
  for (;;) {
    const read = pending.get(reader) ?? reader.read();
    pending.set(reader, read);
    const r = await withTimeout(read, ms);
    if (r === "timeout") return chunks;
    pending.delete(reader);
    if (r.done) return chunks;
    chunks.push(r.value);
  }
}

// RFC 7692 §7.2.3.2: "Hello" compressed, then "Hello" again with context takeover.
const first = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff]);
const second = new Uint8Array([0xf2, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff]);
{
  const ds = new DecompressionStream("deflate-raw");
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  writer.write(first).catch(() => {});
  const a = await readAvailable(reader, 50);
  writer.write(second).catch(() => {});
  const b = await readAvailable(reader, 50);
  const text = (cs) => cs.map((c) => new TextDecoder().decode(c)).join("");
  console.log(
    `${runtime}: DecompressionStream eager: first=${JSON.stringify(text(a))} second=${
      JSON.stringify(text(b))
    } (${a.length}+${b.length} chunks)`,
  );
  writer.abort().catch(() => {});
}
{
  const cs = new CompressionStream("deflate-raw");
  const writer = cs.writable.getWriter();
  const reader = cs.readable.getReader();
  const input = new TextEncoder().encode("Hello");
  writer.write(input).catch(() => {});
  const a = await readAvailable(reader, 50);
  const big = new TextEncoder().encode(
    JSON.stringify({ items: Array(2000).fill({ a: 1, b: "x" }) }),
  );
  writer.write(big).catch(() => {});
  const b = await readAvailable(reader, 50);
  writer.close().catch(() => {});
  const c = await readAvailable(reader, 200);
  const n = (cs) => cs.reduce((s, x) => s + x.length, 0);
  console.log(
    `${runtime}: CompressionStream per write: after "Hello" ${n(a)} bytes [${
      a.map(hex).join("|")
    }]; after ${big.length} more bytes ${n(b)} bytes (ends ${
      b.length ? hex(b.at(-1).subarray(-4)) : "-"
    }); at close ${n(c)} bytes [${c.map((x) => hex(x.subarray(-8))).join("|")}]`,
  );
}
