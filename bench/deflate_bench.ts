/**
 * permessage-deflate end-to-end benchmark: compressed echo throughput of our
 * server (Deno, `Deno.listen` + `upgradeConnection`) and of `ws` (Node) with
 * `perMessageDeflate`, driven by the same `ws` load client, for JSON-like
 * payloads of 1, 16 and 64 KiB, with context takeover on and off; then the
 * memory per idle compressed connection (RSS delta of the server process
 * over 500 connections that each exchanged one compressed message).
 *
 * Run: `deno task bench:deflate` (or `deno run -A bench/deflate_bench.ts`).
 * Options: `--seconds N` per run (default 3), `--connections N` for the
 * memory test (default 500). With `--serve PORT_FILE TAKEOVER` it is our echo
 * server (used internally).
 *
 * @module
 */

import { upgradeConnection } from "@edgesocket/core";

const args = Deno.args;

if (args[0] === "--serve") {
  // Our echo server: prints its port, echoes every message.
  const takeover = args[1] === "on";
  const none = args[1] === "none";
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // deno-lint-ignore no-console
  console.log(`LISTENING ${listener.addr.port}`);
  for await (const conn of listener) {
    upgradeConnection(conn, {
      perMessageDeflate: none ? false : { threshold: 0, serverNoContextTakeover: !takeover },
    }).then((socket) => {
      socket.addEventListener("message", (e) => {
        socket.send((e as MessageEvent).data).catch(() => {});
      });
    }, () => {});
  }
  Deno.exit(0);
}

const option = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const SECONDS = option("--seconds", 3);
const IDLE_CONNECTIONS = option("--connections", 500);
const ROOT = new URL("..", import.meta.url).pathname;

const WS_SERVER = `
import { WebSocketServer } from "ws";
const takeover = process.env.TAKEOVER === "on";
const server = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 1 << 26,
  perMessageDeflate: process.env.TAKEOVER === "none" ? false
    : { threshold: 0, serverNoContextTakeover: !takeover } });
server.on("listening", () => console.log("LISTENING " + server.address().port));
server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
`;

// The load client: C connections, W messages in flight on each, every echo checked.
const LOAD_CLIENT = `
import { WebSocket } from "ws";
const { port, size, seconds, takeover, connections, inflight, idle } = JSON.parse(process.env.CONFIG);
function payload(i) {
  const items = [];
  let text = "";
  for (let k = 0; text.length < size; k++) {
    items.push({ id: i * 1000 + k, user: "user-" + ((i * 7 + k) % 97), online: (i + k) % 3 === 0,
      score: ((i + 1) * (k + 13) * 2654435761) % 100000, tags: ["a", "bb", "ccc"].slice((i + k) % 3) });
    text = JSON.stringify({ type: "update", seq: i, items });
  }
  return text.slice(0, size);
}
const payloads = Array.from({ length: 64 }, (_, i) => payload(i));
const options = { perMessageDeflate: takeover ? { threshold: 0 }
  : { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true }, maxPayload: 1 << 26 };
const url = "ws://127.0.0.1:" + port + "/";
function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on("open", () => resolve(ws));
    ws.on("error", reject);
  });
}
if (idle) {
  const sockets = [];
  for (let i = 0; i < idle; i++) {
    const ws = await open();
    await new Promise((resolve, reject) => {
      ws.once("message", (data) => data.toString() === payloads[i % 64] ? resolve() : reject(new Error("Bad echo")));
      ws.send(payloads[i % 64]);
    });
    sockets.push(ws);
  }
  console.log("READY " + sockets.length + " " + (sockets[0]?.extensions ?? ""));
  process.stdin.once("data", () => { for (const ws of sockets) ws.terminate(); process.exit(0); });
} else {
  let count = 0, bytes = 0, bad = 0, stop = false;
  const sockets = await Promise.all(Array.from({ length: connections }, open));
  const start = performance.now();
  await Promise.all(sockets.map((ws, c) => new Promise((resolve) => {
    const expected = [];
    let next = c * 13;
    const send = () => { const p = payloads[next++ % 64]; expected.push(p); ws.send(p); };
    ws.on("message", (data) => {
      if (data.toString() !== expected.shift()) bad++;
      count++; bytes += size;
      if (stop) { if (expected.length === 0) resolve(); } else send();
    });
    for (let i = 0; i < inflight; i++) send();
  })).concat(new Promise((r) => setTimeout(() => { stop = true; r(); }, seconds * 1000))));
  const elapsed = (performance.now() - start) / 1000;
  for (const ws of sockets) ws.terminate();
  console.log("RESULT " + JSON.stringify({ msgs: count / elapsed, mbps: bytes / elapsed / 1048576, bad }));
  process.exit(0);
}
`;

interface Server {
  pid: number;
  port: number;
  child: Deno.ChildProcess;
}

async function startServer(
  kind: "edgesocket" | "ws",
  takeover: boolean | "none",
): Promise<Server> {
  const mode = takeover === "none" ? "none" : takeover ? "on" : "off";
  const command = kind === "ws"
    ? new Deno.Command("node", {
      args: ["--input-type=module", "-e", WS_SERVER],
      cwd: ROOT,
      env: { TAKEOVER: mode },
      stdout: "piped",
      stderr: "inherit",
    })
    : new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--serve", mode],
      cwd: ROOT,
      stdout: "piped",
      stderr: "inherit",
    });
  const child = command.spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/LISTENING (\d+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${kind} server exited`);
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { pid: child.pid, port: Number(/LISTENING (\d+)/.exec(text)![1]), child };
}

async function stopServer(server: Server): Promise<void> {
  server.child.kill("SIGTERM");
  await server.child.status;
}

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

async function load(port: number, size: number, takeover: boolean): Promise<
  { msgs: number; mbps: number; bad: number }
> {
  const config = { port, size, seconds: SECONDS, takeover, connections: 4, inflight: 8, idle: 0 };
  const out = await new Deno.Command("node", {
    args: ["--input-type=module", "-e", LOAD_CLIENT],
    cwd: ROOT,
    env: { CONFIG: JSON.stringify(config) },
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`Load client failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(line.slice(7));
}

async function idleMemory(server: Server, takeover: boolean): Promise<number> {
  await new Promise((r) => setTimeout(r, 300));
  const before = rssKiB(server.pid);
  const config = { port: server.port, size: 1024, takeover, idle: IDLE_CONNECTIONS };
  const child = new Deno.Command("node", {
    args: ["--input-type=module", "-e", LOAD_CLIENT],
    cwd: ROOT,
    env: { CONFIG: JSON.stringify(config) },
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("READY")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Idle client exited");
    text += value;
  }
  await new Promise((r) => setTimeout(r, 500));
  const after = rssKiB(server.pid);
  const writer = child.stdin.getWriter();
  await writer.write(new Uint8Array([10]));
  await writer.close();
  reader.cancel().catch(() => {});
  await child.status;
  return (after - before) / IDLE_CONNECTIONS;
}

const rows: string[] = [];
const log = (line: string): void => {
  rows.push(line);
  // deno-lint-ignore no-console
  console.log(line);
};

log(`permessage-deflate echo, ${SECONDS} s per run, 4 connections x 8 in flight, ws load client`);
log("| server | takeover | payload | msg/s | MB/s | bad echoes |");
log("| --- | --- | --- | ---: | ---: | ---: |");
for (const takeover of [true, false]) {
  for (const size of [1024, 16 * 1024, 64 * 1024]) {
    for (const kind of ["ws", "edgesocket"] as const) {
      const server = await startServer(kind, takeover);
      try {
        const r = await load(server.port, size, takeover);
        log(
          `| ${kind} | ${takeover ? "on" : "off"} | ${size / 1024} KiB | ${r.msgs.toFixed(0)} | ${
            r.mbps.toFixed(1)
          } | ${r.bad} |`,
        );
      } finally {
        await stopServer(server);
      }
    }
  }
}

log("");
log(`Memory per idle compressed connection (${IDLE_CONNECTIONS} connections, one 1 KiB echo each)`);
log("| server | takeover | RSS delta per connection |");
log("| --- | --- | ---: |");
for (const takeover of [true, false, "none"] as const) {
  for (const kind of ["ws", "edgesocket"] as const) {
    const server = await startServer(kind, takeover);
    try {
      const perConnection = await idleMemory(server, takeover !== false);
      const label = takeover === "none" ? "no compression (baseline)" : takeover ? "on" : "off";
      log(`| ${kind} | ${label} | ${perConnection.toFixed(1)} KiB |`);
    } finally {
      await stopServer(server);
    }
  }
}
