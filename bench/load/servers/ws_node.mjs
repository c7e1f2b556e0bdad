// Echo server on the `ws` npm package (Node), compression off. Set
// WS_NO_BUFFER_UTIL=1 to run without the native `bufferutil` add-on.
// Prints `LISTENING <port>`.
import process from "node:process";
import { WebSocketServer } from "ws";

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024,
});
server.on("listening", () => console.log(`LISTENING ${server.address().port}`));
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on("error", () => {});
});
process.on("SIGTERM", () => process.exit(0));
