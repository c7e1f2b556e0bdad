// Echo server peer on the `ws` npm package, for Node >= 20 (also starts under
// Bun, where `import "ws"` resolves to Bun's own built-in `ws` replacement).
//
// Usage: node ws_echo_server.mjs [--host 127.0.0.1] [--port 0] [--protocols a,b]
//                                [--no-compression] [--max-size BYTES]
//
// Prints `LISTENING <port>` once bound. Per connection prints `CONNECTION
// {"path", "protocol", "extensions", "requestProtocols", "requestExtensions"}`
// and, when it ends, `CLOSED {"code", "reason"}`. Echoes text as text and
// binary as binary; ws answers a close frame with the same code. Subprotocol:
// the first of --protocols (server preference order) the client offered, else
// none. Compression (default on) compresses every message (threshold 0).
import process from "node:process";
import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    protocols: { type: "string", default: "" },
    "no-compression": { type: "boolean", default: false },
    "max-size": { type: "string", default: String(64 * 1024 * 1024) },
  },
});
const protocols = values.protocols.split(",").filter((p) => p !== "");

function emit(kind, payload) {
  process.stdout.write(
    payload === undefined ? `${kind}\n` : `${kind} ${JSON.stringify(payload)}\n`,
  );
}

const server = new WebSocketServer({
  host: values.host,
  port: Number(values.port),
  perMessageDeflate: values["no-compression"] ? false : { threshold: 0 },
  maxPayload: Number(values["max-size"]),
  handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false,
});

const responseHeaders = new WeakMap();
server.on("headers", (headers, request) => {
  responseHeaders.set(request, headers);
});

server.on("listening", () => emit(`LISTENING ${server.address().port}`));

server.on("connection", (socket, request) => {
  const headers = responseHeaders.get(request) ?? [];
  const extensions = headers
    .find((h) => h.toLowerCase().startsWith("sec-websocket-extensions:"))
    ?.replace(/^[^:]*:\s*/, "") ?? null;
  emit("CONNECTION", {
    path: request.url,
    protocol: socket.protocol || null,
    extensions,
    requestProtocols: request.headers["sec-websocket-protocol"] ?? null,
    requestExtensions: request.headers["sec-websocket-extensions"] ?? null,
  });
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on("close", (code, reason) => emit("CLOSED", { code, reason: reason.toString() }));
  socket.on("error", (error) => process.stderr.write(`socket error: ${error.message}\n`));
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    for (const client of server.clients) client.terminate();
    server.close(() => process.exit(0));
  });
}
