// The chat demo. Run it with `deno task demo` (or `npm run demo`), then open
// http://localhost:8000 in two browser windows. PORT overrides the port.
import process from "node:process";
import { startChat } from "./chat.ts";

const chat = await startChat({ port: Number(process.env.PORT ?? 8000) });
console.log(`Chat demo on http://localhost:${chat.port} (Ctrl-C to stop)`);
process.on("SIGINT", async () => {
  await chat.close();
  process.exit(0);
});
