// Bare TCP server on `node:net` (runs on Node, Deno and Bun): accepts and
// reads, never answers. The runtime's own per-socket cost, for the memory
// figure. Prints `LISTENING <port>`.
import net from "node:net";
import process from "node:process";

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("data", () => {});
  socket.on("error", () => {});
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`LISTENING ${server.address().port}`);
});
