// Bare TCP echo on `node:net` (runs on Node, Deno and Bun): answers the
// upgrade request with a bare 101, then writes every byte back as it came,
// unparsed. No WebSocket work: the runtime's transport ceiling for the echo
// matrix (the load generator runs with `--expect same`). Prints
// `LISTENING <port>`.
import net from "node:net";
import process from "node:process";

const HEAD_END = Buffer.from("\r\n\r\n");
const SWITCHING = Buffer.from("HTTP/1.1 101 Switching Protocols\r\n\r\n");

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("error", () => {});
  let head = Buffer.alloc(0);
  const onHead = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf(HEAD_END);
    if (end === -1) return;
    socket.off("data", onHead);
    socket.write(SWITCHING);
    if (head.length > end + 4) socket.write(head.subarray(end + 4));
    socket.on("data", (data) => socket.write(data));
  };
  socket.on("data", onHead);
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`LISTENING ${server.address().port}`);
});
