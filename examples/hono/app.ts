// The Hono app, the same on every runtime; see main.ts for how to run it.
import { Hono } from "hono";
import { upgradeWebSocket } from "@edgesocket/core/hono";

/** The app: an echo endpoint at /ws. */
export const app: Hono = new Hono();

app.get("/", (c) => c.text("WebSocket endpoint at /ws"));
app.get(
  "/ws",
  upgradeWebSocket(() => ({
    onOpen: (_event, ws) => ws.send(`welcome (${ws.protocol || "no subprotocol"})`),
    onMessage: (event, ws) => ws.send(`echo: ${event.data}`),
    onClose: (event) => console.log(`closed ${event.code}`),
  }), { protocols: ["chat"], origins: ["http://localhost:8080"] }),
);
