/**
 * The chat demo's server: one node:http server (runs on Deno, Node via a
 * bundle, and Bun) serving the page and a WebSocket endpoint framed by
 * edgesocket's codec, so every connection can be pinged for its round-trip
 * time.
 *
 * Wire protocol (JSON text messages):
 * - subprotocol `superchat` (preferred): chat lines, presence and a stats
 *   feed with each connection's round-trip time;
 * - subprotocol `chat`: chat lines and presence only.
 *
 * client → server: `{ "type": "say", "text": string }`
 * server → client: `{ "type": "welcome", id, name, room, protocol }`,
 * `{ "type": "message", from, text, at }`, `{ "type": "presence", room, members }`,
 * `{ "type": "stats", connections: [{ id, name, room, protocol, rtt }] }` (superchat only)
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { EdgeSocket } from "@edgesocket/core";
import { createWebSocketServer, type WebSocketServer } from "@edgesocket/core/node";

/** Options for {@linkcode startChat}. */
export interface ChatOptions {
  /** TCP port; 0 picks a free one. Default 8000. */
  port?: number;
  /** Interface to bind. Default `127.0.0.1`. */
  hostname?: string;
  /** Ms between round-trip measurements. Default 2000. */
  statsInterval?: number;
}

/** A running chat server. */
export interface ChatServer extends AsyncDisposable {
  /** The HTTP server. */
  server: Server;
  /** The WebSocket endpoint. */
  endpoint: WebSocketServer;
  /** The bound port. */
  port: number;
  /** Graceful shutdown: 1001 to everyone, then stop listening. */
  close(): Promise<void>;
}

interface Member {
  id: number;
  name: string;
  room: string;
  protocol: string;
  rtt: number | null;
}

const MAX_TEXT = 2000;
const MAX_NAME = 32;

/**
 * Starts the chat server.
 *
 * @param options Port, interface and stats interval.
 * @returns The running server.
 */
export async function startChat(options: ChatOptions = {}): Promise<ChatServer> {
  const page = await readFile(new URL("./index.html", import.meta.url));
  const members = new Map<EdgeSocket, Member>();
  let nextId = 1;

  const server = createServer((req, res) => {
    if (req.url === "/" || req.url?.startsWith("/?")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(page);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("Not Found");
    }
  });

  const send = (socket: EdgeSocket, message: unknown): void => {
    if (socket.readyState === 1) socket.send(JSON.stringify(message)).catch(() => {});
  };
  const roomOf = (room: string): [EdgeSocket, Member][] =>
    [...members].filter(([, member]) => member.room === room);
  const presence = (room: string): void => {
    const list = roomOf(room).map(([, m]) => ({ id: m.id, name: m.name }));
    for (const [socket] of roomOf(room)) send(socket, { type: "presence", room, members: list });
  };

  const endpoint = createWebSocketServer({
    server,
    path: "/ws",
    protocols: ["superchat", "chat"],
    requireProtocol: true,
    maxMessageSize: 64 * 1024,
    heartbeat: { interval: 15_000, timeout: 10_000 },
    onSocket(socket, request) {
      const params = new URL(request.url).searchParams;
      const member: Member = {
        id: nextId++,
        name: (params.get("name") || `guest-${nextId - 1}`).slice(0, MAX_NAME),
        room: (params.get("room") || "lobby").slice(0, MAX_NAME),
        protocol: socket.protocol,
        rtt: null,
      };
      members.set(socket, member);
      send(socket, { type: "welcome", ...member });
      presence(member.room);
      socket.onmessage = (event) => {
        let text: unknown;
        try {
          text = typeof event.data === "string" ? JSON.parse(event.data).text : undefined;
        } catch {
          text = undefined;
        }
        if (typeof text !== "string" || text.length === 0 || text.length > MAX_TEXT) {
          socket.close(1003, "Expected {type:say,text}");
          return;
        }
        const line = { type: "message", from: member.name, text, at: Date.now() };
        for (const [peer] of roomOf(member.room)) send(peer, line);
      };
      socket.onclose = () => {
        members.delete(socket);
        presence(member.room);
      };
    },
  });

  // The live panel: measure every connection's round trip, then tell superchat clients.
  const stats = setInterval(async () => {
    await Promise.all([...members].map(async ([socket, member]) => {
      member.rtt = await socket.ping().catch(() => null);
    }));
    const connections = [...members.values()].map((m) => ({
      id: m.id,
      name: m.name,
      room: m.room,
      protocol: m.protocol,
      rtt: m.rtt === null ? null : Math.round(m.rtt * 100) / 100,
    }));
    for (const [socket, member] of members) {
      if (member.protocol === "superchat") send(socket, { type: "stats", connections });
    }
  }, options.statsInterval ?? 2000);

  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 8000, options.hostname ?? "127.0.0.1", resolve)
  );
  const { port } = server.address() as { port: number };

  const close = async (): Promise<void> => {
    clearInterval(stats);
    await endpoint.close({ drainTimeout: 2000 });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { server, endpoint, port, close, [Symbol.asyncDispose]: close };
}
