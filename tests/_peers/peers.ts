/**
 * Launchers for the scripted peers: echo servers and one-shot clients on
 * python-websockets, `ws` (Node or Bun), and Deno's and Bun's native
 * WebSocket. Every peer speaks the same command-line shape; see each script's
 * header for its flags.
 *
 * @module
 */

import { parseLine, type PeerMessage, type PeerResult } from "./messages.ts";
import { type Peer, runToCompletion, spawnPeer } from "./process.ts";
import { PEERS_DIR, REPO_ROOT, requireTool, type Tool } from "./tools.ts";

/** An echo server implementation. */
export type ServerKind = "python" | "ws-node" | "ws-bun" | "deno-native" | "bun-native";

/** A scripted client implementation. */
export type ClientKind = "python" | "ws-node" | "ws-bun" | "deno-native" | "bun-native";

/** Every server kind. */
export const SERVER_KINDS: readonly ServerKind[] = [
  "python",
  "ws-node",
  "ws-bun",
  "deno-native",
  "bun-native",
];

/** Every client kind. */
export const CLIENT_KINDS: readonly ClientKind[] = [
  "python",
  "ws-node",
  "ws-bun",
  "deno-native",
  "bun-native",
];

/** Options shared by servers and clients. */
export interface PeerOptions {
  /** Subprotocols: offered by a client, supported (in preference order) by a server. */
  protocols?: string[];
  /** permessage-deflate on (default) or off. Deno's native peers cannot do it; the native client cannot choose. */
  compression?: boolean;
  /** Largest message accepted, in bytes (default 64 MiB). Not for native clients. */
  maxSize?: number;
}

/** Options for {@linkcode runClient}. */
export interface ClientOptions extends PeerOptions {
  /** Close code the client sends after the echoes (default 1000). */
  closeCode?: number;
  /** Close reason the client sends (default `"bye"`). */
  closeReason?: string;
  /** Kill the client after this many ms (default 15000). */
  timeoutMs?: number;
}

/**
 * The tools a peer kind needs (Deno itself is always there).
 *
 * @param kind A server or client kind.
 * @returns The tools to check.
 */
export function toolsFor(kind: ServerKind | ClientKind): Tool[] {
  switch (kind) {
    case "python":
      return ["python"];
    case "ws-node":
      return ["node"];
    case "ws-bun":
    case "bun-native":
      return ["bun"];
    case "deno-native":
      return [];
  }
}

function command(kind: ServerKind | ClientKind, script: string): [string, string[]] {
  const path = `${PEERS_DIR}/${script}`;
  switch (kind) {
    case "python":
      return [requireTool("python").path, [path]];
    case "ws-node":
      return [requireTool("node").path, [path]];
    case "ws-bun":
    case "bun-native":
      return [requireTool("bun").path, [path]];
    case "deno-native":
      return [Deno.execPath(), ["run", "--allow-net", "--allow-read", path]];
  }
}

const SERVER_SCRIPTS: Record<ServerKind, string> = {
  "python": "py_echo_server.py",
  "ws-node": "ws_echo_server.mjs",
  "ws-bun": "ws_echo_server.mjs",
  "deno-native": "deno_native_echo.ts",
  "bun-native": "bun_native_echo.ts",
};

const CLIENT_SCRIPTS: Record<ClientKind, string> = {
  "python": "py_client.py",
  "ws-node": "ws_client.mjs",
  "ws-bun": "ws_client.mjs",
  "deno-native": "native_client.ts",
  "bun-native": "native_client.ts",
};

function commonArgs(options: PeerOptions): string[] {
  const args: string[] = [];
  if (options.protocols?.length) args.push("--protocols", options.protocols.join(","));
  if (options.compression === false) args.push("--no-compression");
  if (options.maxSize !== undefined) args.push("--max-size", String(options.maxSize));
  return args;
}

/**
 * Starts an echo server peer on 127.0.0.1, on a free port.
 *
 * @param kind Which implementation.
 * @param options Subprotocols, compression, size limit.
 * @returns The running peer (`port` set); dispose it to stop it.
 *
 * @example Usage
 * ```ts ignore
 * await using server = await startEchoServer("python", { protocols: ["chat"] });
 * const url = wsUrl(server, "/echo");
 * ```
 */
export async function startEchoServer(kind: ServerKind, options: PeerOptions = {}): Promise<Peer> {
  const [cmd, args] = command(kind, SERVER_SCRIPTS[kind]);
  return await spawnPeer(cmd, {
    args: [...args, "--port", "0", ...commonArgs(options)],
    cwd: REPO_ROOT,
    name: `${kind} echo server`,
  });
}

/**
 * The `ws://` URL of a server peer.
 *
 * @param peer A server started by {@linkcode startEchoServer} or {@linkcode spawnPeer}.
 * @param path Request path (default `/`).
 * @returns `ws://127.0.0.1:<port><path>`.
 */
export function wsUrl(peer: Peer, path = "/"): string {
  return `ws://127.0.0.1:${peer.port}${path}`;
}

/**
 * Runs a scripted client peer: it connects, sends the messages, reads as many
 * back, closes, and reports.
 *
 * @param kind Which implementation.
 * @param url The server's URL.
 * @param messages What to send.
 * @param options Subprotocols, compression, close code and reason, timeout.
 * @returns The client's report.
 * @throws {Error} If the client fails or times out, with its output.
 */
export async function runClient(
  kind: ClientKind,
  url: string,
  messages: readonly PeerMessage[],
  options: ClientOptions = {},
): Promise<PeerResult> {
  const [cmd, baseArgs] = command(kind, CLIENT_SCRIPTS[kind]);
  const json = JSON.stringify(messages);
  // Long argument strings hit the kernel's 128 KiB per-argument limit.
  const file = json.length > 64 * 1024 ? await Deno.makeTempFile({ suffix: ".json" }) : null;
  if (file !== null) await Deno.writeTextFile(file, json);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const args = [
    ...baseArgs,
    url,
    ...(file === null ? ["--messages", json] : ["--messages-file", file]),
    ...commonArgs(options),
    "--close-code",
    String(options.closeCode ?? 1000),
    "--close-reason",
    options.closeReason ?? "bye",
    "--timeout",
    String(timeoutMs / 1000),
  ];
  try {
    const out = await runToCompletion(cmd, { args, cwd: REPO_ROOT, timeoutMs: timeoutMs + 5000 });
    const result = parseLine<PeerResult>(out.stdout, "RESULT");
    if (out.code !== 0 || result === null) {
      throw new Error(
        `Client ${kind} failed (exit ${out.code}) against ${url}` +
          `\n--- stdout ---\n${out.stdout.trim()}\n--- stderr ---\n${out.stderr.trim()}`,
      );
    }
    return result;
  } finally {
    if (file !== null) await Deno.remove(file);
  }
}

/**
 * Runs an inline peer script (Node ESM or Python) that reads its settings
 * from the `PEER_CONFIG` environment variable and prints one
 * `RESULT <json>` line.
 *
 * @param tool The interpreter.
 * @param script The script's source.
 * @param config Its settings, passed as JSON.
 * @param timeoutMs Kill it after this long.
 * @returns The parsed `RESULT` line.
 * @throws {Error} If the script fails, times out or reports nothing, with its output.
 */
export async function runScript<T>(
  tool: "node" | "python",
  script: string,
  config: unknown,
  timeoutMs = 20_000,
): Promise<T> {
  const args = tool === "node" ? ["--input-type=module", "-e", script] : ["-c", script];
  const out = await runToCompletion(requireTool(tool).path, {
    args,
    cwd: REPO_ROOT,
    env: { PEER_CONFIG: JSON.stringify(config) },
    timeoutMs,
  });
  const result = parseLine<T>(out.stdout, "RESULT");
  if (out.code !== 0 || result === null) {
    throw new Error(`${tool} script failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
  }
  return result;
}
