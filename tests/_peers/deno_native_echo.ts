/**
 * Echo server peer on Deno's own WebSocket (`Deno.serve` +
 * `Deno.upgradeWebSocket`).
 *
 * Usage: `deno run --allow-net deno_native_echo.ts [--host 127.0.0.1]
 * [--port 0] [--protocols a,b]`
 *
 * Prints `LISTENING <port>` once bound. Per connection prints `CONNECTION
 * {"path", "protocol", "extensions", "requestProtocols", "requestExtensions"}`
 * and, when it ends, `CLOSED {"code", "reason"}`. Echoes text as text and
 * binary as binary; Deno answers a close frame with the same code.
 * Subprotocol: the first of --protocols the client offered, else none. Deno's
 * server has no permessage-deflate, so `--no-compression` is accepted and
 * changes nothing.
 *
 * @module
 */

function flag(name: string, fallback: string): string {
  const index = Deno.args.indexOf(`--${name}`);
  return index === -1 ? fallback : Deno.args[index + 1] ?? fallback;
}

function emit(kind: string, payload?: unknown): void {
  const line = payload === undefined ? kind : `${kind} ${JSON.stringify(payload)}`;
  const bytes = new TextEncoder().encode(`${line}\n`);
  // writeSync on a pipe may write only part of a line: loop.
  for (let offset = 0; offset < bytes.length;) {
    offset += Deno.stdout.writeSync(bytes.subarray(offset));
  }
}

const protocols = flag("protocols", "").split(",").filter((p) => p !== "");

const server = Deno.serve({
  hostname: flag("host", "127.0.0.1"),
  port: Number(flag("port", "0")),
  onListen: ({ port }) => emit(`LISTENING ${port}`),
}, (request) => {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("WebSocket echo server\n", { status: 426 });
  }
  const offered = (request.headers.get("sec-websocket-protocol") ?? "")
    .split(",").map((p) => p.trim()).filter((p) => p !== "");
  const protocol = protocols.find((p) => offered.includes(p));
  // The request's headers are unreadable once the upgrade completes: copy them now.
  const url = new URL(request.url);
  const requestProtocols = request.headers.get("sec-websocket-protocol");
  const requestExtensions = request.headers.get("sec-websocket-extensions");
  const { socket, response } = Deno.upgradeWebSocket(request, { protocol });
  socket.binaryType = "arraybuffer";
  socket.onopen = () =>
    emit("CONNECTION", {
      path: url.pathname + url.search,
      // The server-side socket.protocol stays "" on Deno even when the 101
      // carried one: report the choice made here.
      protocol: socket.protocol || (protocol ?? null),
      extensions: response.headers.get("sec-websocket-extensions") ?? (socket.extensions || null),
      requestProtocols,
      requestExtensions,
    });
  socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => socket.send(event.data);
  socket.onclose = (event) => emit("CLOSED", { code: event.code, reason: event.reason });
  socket.onerror = () => {};
  return response;
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => {
    server.shutdown().finally(() => Deno.exit(0));
    setTimeout(() => Deno.exit(0), 500);
  });
}
