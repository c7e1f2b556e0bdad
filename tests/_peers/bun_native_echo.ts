/**
 * Echo server peer on Bun's own WebSocket (`Bun.serve` with `websocket`).
 *
 * Usage: `bun bun_native_echo.ts [--host 127.0.0.1] [--port 0]
 * [--protocols a,b] [--no-compression]`
 *
 * Prints `LISTENING <port>` once bound. Per connection prints `CONNECTION
 * {"path", "protocol", "extensions", "requestProtocols", "requestExtensions"}`
 * and, when it ends, `CLOSED {"code", "reason"}`. Echoes text as text and
 * binary as binary. Subprotocol: the first of --protocols the client offered,
 * else none. Compression: Bun's `perMessageDeflate` (on by default here).
 *
 * @module
 */

/** The part of Bun's API this peer uses (typed here so `deno check` passes). */
interface BunServerWebSocket {
  data: {
    path: string;
    protocol: string | null;
    requestProtocols: string | null;
    requestExtensions: string | null;
  };
  send(data: string | Uint8Array | ArrayBuffer, compress?: boolean): number;
}
interface BunServer {
  readonly port: number;
  upgrade(
    request: Request,
    options: { headers?: HeadersInit; data: BunServerWebSocket["data"] },
  ): boolean;
  stop(closeActiveConnections?: boolean): unknown;
}
interface BunRuntime {
  argv: string[];
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      maxPayloadLength: number;
      open(ws: BunServerWebSocket): void;
      message(ws: BunServerWebSocket, message: string | Uint8Array): void;
      close(ws: BunServerWebSocket, code: number, reason: string): void;
    };
  }): BunServer;
}
interface NodeProcess {
  stdout: { write(text: string): boolean };
  on(signal: string, listener: () => void): void;
  exit(code: number): never;
}

const bun = (globalThis as unknown as { Bun: BunRuntime }).Bun;
const process = (globalThis as unknown as { process: NodeProcess }).process;
const args = bun.argv.slice(2);

function flag(name: string, fallback: string): string {
  const index = args.indexOf(`--${name}`);
  return index === -1 ? fallback : args[index + 1] ?? fallback;
}

function emit(kind: string, payload?: unknown): void {
  process.stdout.write(
    payload === undefined ? `${kind}\n` : `${kind} ${JSON.stringify(payload)}\n`,
  );
}

const protocols = flag("protocols", "").split(",").filter((p) => p !== "");
const compression = !args.includes("--no-compression");
// Bun's server side exposes neither the response headers nor the negotiated
// extensions: report only whether permessage-deflate was offered and enabled
// (Bun answers with no_context_takeover parameters the client can see).
const extensionsFor = (requested: string | null): string | null =>
  compression && requested?.includes("permessage-deflate") ? "permessage-deflate" : null;

const server = bun.serve({
  hostname: flag("host", "127.0.0.1"),
  port: Number(flag("port", "0")),
  fetch(request, server) {
    const offered = (request.headers.get("sec-websocket-protocol") ?? "")
      .split(",").map((p) => p.trim()).filter((p) => p !== "");
    const protocol = protocols.find((p) => offered.includes(p));
    const url = new URL(request.url);
    const upgraded = server.upgrade(request, {
      headers: protocol === undefined ? {} : { "Sec-WebSocket-Protocol": protocol },
      data: {
        path: url.pathname + url.search,
        protocol: protocol ?? null,
        requestProtocols: request.headers.get("sec-websocket-protocol"),
        requestExtensions: request.headers.get("sec-websocket-extensions"),
      },
    });
    return upgraded ? undefined : new Response("WebSocket echo server\n", { status: 426 });
  },
  websocket: {
    perMessageDeflate: compression,
    maxPayloadLength: Number(flag("max-size", String(64 * 1024 * 1024))),
    open(ws) {
      emit("CONNECTION", {
        path: ws.data.path,
        // Bun's ServerWebSocket does not expose the subprotocol: report our choice.
        protocol: ws.data.protocol,
        extensions: extensionsFor(ws.data.requestExtensions),
        requestProtocols: ws.data.requestProtocols,
        requestExtensions: ws.data.requestExtensions,
      });
    },
    message(ws, message) {
      ws.send(message);
    },
    close(_ws, code, reason) {
      emit("CLOSED", { code, reason });
    },
  },
});

emit(`LISTENING ${server.port}`);

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.stop(true);
    process.exit(0);
  });
}
