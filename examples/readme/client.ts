import { connect } from "@edgesocket/core";

const socket = connect("ws://localhost:8080", { protocols: ["superchat", "chat"] });
const { protocol } = await socket.opened;
await socket.send("hello");
for await (const message of socket) {
  console.log(protocol, message, `rtt ${await socket.ping().catch(() => "n/a")}`);
  break;
}
socket.close(1000, "done");
