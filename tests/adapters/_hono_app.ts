/**
 * One Hono app serving the test contract (`_bun_contract.ts`, the same paths
 * as `_suite.ts`) through `@edgesocket/core/hono`'s `upgradeWebSocket`, in
 * Hono's own event style. `_hono_server.ts` runs it unchanged on Deno, Bun
 * and Node.
 *
 * `/slow` is its own route with `readableHighWaterMark: 1`: its socket's
 * reader is taken in `onOpen` (which fires before the first message is
 * read) and only `/drain` reads it. That holds the client back where the
 * socket is codec-backed (Node); Deno's and Bun's native sockets have no
 * backpressure, so the suite skips that step there.
 *
 * @module
 */

import { Hono } from "hono";
import { upgradeWebSocket } from "../../src/adapters/hono.ts";
import type { EdgeSocket } from "../../src/socket.ts";
import { CONTRACT_POLICY, drainSlow, holdSlow, slot } from "./_bun_contract.ts";

/** The app. */
export const app: Hono = new Hono();

app.get(
  "/slow",
  upgradeWebSocket((c) => {
    const id = new URL(c.req.url).searchParams.get("id");
    return {
      onOpen: (_event, ws) => {
        if (id !== null && ws.raw) holdSlow(id, ws.raw);
      },
    };
  }, { ...CONTRACT_POLICY, readableHighWaterMark: 1 }),
);

app.get(
  "*",
  upgradeWebSocket((c) => {
    const url = new URL(c.req.url);
    const id = url.searchParams.get("id");
    switch (url.pathname) {
      case "/close":
        return { onOpen: (_event, ws) => ws.close(4002, "server-bye") };
      case "/caps":
        return { onOpen: (_event, ws) => ws.send(JSON.stringify(ws.raw?.capabilities)) };
      case "/ping":
        return {
          onOpen: (_event, ws) => {
            (ws.raw as EdgeSocket).ping().then(
              (rtt) => ws.send(`rtt:${rtt}`),
              (error) => ws.send(`error:${error.code}`),
            );
          },
        };
      case "/report":
        return {
          onOpen: (_event, ws) => {
            if (id === null) return;
            slot(id).promise.then((info) => {
              ws.send(JSON.stringify(info));
              ws.close(1000);
            });
          },
        };
      case "/drain":
        return {
          onOpen: (_event, ws) => {
            drainSlow(id, Number(url.searchParams.get("count") ?? "0")).then(
              (answer) => ws.send(answer),
              () => ws.close(1011),
            );
          },
        };
      default:
        return {
          onMessage: (event, ws) => {
            const data = event.data;
            ws.send(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
          },
          onClose: (event) => {
            if (id !== null) slot(id).resolve({ closeCode: event.code, reason: event.reason });
          },
        };
    }
  }, CONTRACT_POLICY),
);
