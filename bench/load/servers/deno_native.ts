/**
 * Echo server on Deno's own WebSocket: `Deno.serve` + `Deno.upgradeWebSocket`.
 * Prints `LISTENING <port>`.
 *
 * @module
 */

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0] ?? 0),
  onListen: ({ port }) => console.log(`LISTENING ${port}`),
}, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => socket.send(event.data);
  socket.onerror = () => {};
  return response;
});
