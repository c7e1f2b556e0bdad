// Bare TCP server on `Bun.listen`: accepts and reads, never answers. Bun's
// own per-socket cost, for the memory figure. Prints `LISTENING <port>`.
const listener = Bun.listen({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  socket: { data() {}, error() {} },
});
console.log(`LISTENING ${listener.port}`);
