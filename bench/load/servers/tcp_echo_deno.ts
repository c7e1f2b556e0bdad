/**
 * Bare TCP echo on `Deno.listen`: answers the upgrade request with a bare
 * 101, then writes every byte back as it came, unparsed, reading into one
 * buffer per connection with `conn.read` and writing with `conn.write` (the
 * calls the codec-backed `listen` adapter makes). No WebSocket work: the
 * transport ceiling for the echo matrix (the load generator runs with
 * `--expect same`). Prints `LISTENING <port>`.
 *
 * @module
 */

const SWITCHING = new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\n\r\n");

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

/** Index just past the first CRLFCRLF in `bytes[0..length)`, or -1. */
function headEnd(bytes: Uint8Array, length: number): number {
  for (let i = 3; i < length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      return i + 1;
    }
  }
  return -1;
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buffer = new Uint8Array(64 * 1024);
  let filled = 0;
  for (;;) {
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) return;
    filled += n;
    const end = headEnd(buffer, filled);
    if (end !== -1) {
      await writeAll(conn, SWITCHING);
      if (filled > end) await writeAll(conn, buffer.subarray(end, filled));
      break;
    }
    if (filled === buffer.length) return;
  }
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) return;
    await writeAll(conn, buffer.subarray(0, n));
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 0) });
console.log(`LISTENING ${(listener.addr as Deno.NetAddr).port}`);
for await (const conn of listener) serve(conn).catch(() => conn.close());
