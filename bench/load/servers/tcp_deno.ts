/**
 * Bare TCP server on `Deno.listen`: accepts and keeps one read pending per
 * connection through `conn.readable` (as a codec-backed server does), never
 * answers. Deno's own per-socket cost, for the memory figure. Prints
 * `LISTENING <port>`.
 *
 * @module
 */

const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 0) });
console.log(`LISTENING ${(listener.addr as Deno.NetAddr).port}`);
for await (const conn of listener) {
  conn.setNoDelay(true);
  conn.readable.pipeTo(new WritableStream()).catch(() => {});
}
