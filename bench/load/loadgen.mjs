// WebSocket echo load generator on raw `node:net` sockets, the same for every
// server under test (it runs on Node, whatever runtime the server uses).
//
// Usage:
//   node loadgen.mjs --port P [--host 127.0.0.1] [--size 32] [--conns 1]
//                    [--inflight 16] [--duration 1] [--warmup 0.25] [--label x]
//                    [--expect echo|same] [--server-pid PID] [--fragments 1]
//   node loadgen.mjs --port P --idle 5000 [--raw] [--hold 60]
//
// Echo mode: opens --conns connections, upgrades each (RFC 6455 §4.1), keeps
// --inflight binary messages of --size bytes in flight on each, and after
// --warmup seconds measures for --duration seconds. Frames are pre-built and
// pre-masked; a connection's payload is random and fixed, so the bytes it
// must receive are exactly its unmasked echo frame repeated. Every received
// byte is compared with that stream (memcmp over the chunk, no parsing, no
// copying), so a wrong byte, a split or merged message, a reordered or
// cross-connection reply, or a server that pads or fragments is an error.
// Prints one JSON line: messages/s, MB/s of echoed payload (1 MB = 1e6 B),
// latency percentiles in µs (send-batch time to receive-chunk time).
// With --server-pid (Linux), also the server process's CPU time (user +
// system, from /proc, 10 ms ticks) and its minor page faults over the
// measured window per echo; always the generator's own CPU time per echo
// (loadCpuUsPerMsg).
//
// --fragments N: each message goes out as N frames of (nearly) equal size, FIN
// on the last only (RFC 6455 §5.4); the echo expected is still one frame.
// Defaults to $LOADGEN_FRAGMENTS (how `ab.ts --fragments` reaches it through
// `run.ts`), else 1.
//
// --expect same: the server is a bare TCP echo (it answers the upgrade with
// 101, then sends back every byte as it came), so the bytes expected are the
// masked frames themselves: the runtime's transport ceiling, no WebSocket work.
//
// Idle mode (--idle N): opens N connections, upgrades them (or with --raw only
// sends the request, for a bare TCP server), prints `READY {...}` and holds
// them until stdin closes, SIGTERM, or --hold seconds pass.
import net from "node:net";
import process from "node:process";
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { frameHeader } from "../_frames.mjs";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    path: { type: "string", default: "/" },
    size: { type: "string", default: "32" },
    conns: { type: "string", default: "1" },
    inflight: { type: "string", default: "16" },
    duration: { type: "string", default: "1" },
    warmup: { type: "string", default: "0.25" },
    label: { type: "string", default: "" },
    expect: { type: "string", default: "echo" },
    idle: { type: "string" },
    raw: { type: "boolean", default: false },
    hold: { type: "string", default: "120" },
    "connect-batch": { type: "string", default: "200" },
    "server-pid": { type: "string" },
    fragments: { type: "string", default: process.env.LOADGEN_FRAGMENTS ?? "1" },
  },
});

const host = values.host;
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0) fail("--port is required");
if (values.expect !== "echo" && values.expect !== "same") fail("--expect is echo or same");
const fragments = Number(values.fragments);
if (!Number.isInteger(fragments) || fragments < 1) fail("--fragments is a positive integer");

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/**
 * The server's CPU time so far (user + system) in µs and its minor page
 * faults, if --server-pid names a process.
 */
function serverUsage() {
  if (values["server-pid"] === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${values["server-pid"]}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    // Fields 10, 14 and 15 of stat(5) (minflt, utime, stime), counted after the command name.
    return {
      cpuUs: (Number(fields[11]) + Number(fields[12])) * 1e6 / USER_HZ,
      faults: Number(fields[7]),
    };
  } catch {
    return undefined;
  }
}

function fail(message) {
  process.stderr.write(`loadgen: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// Frames

/**
 * A client message: binary, masked (RFC 6455 §5.2, §5.3), in `count` frames
 * of (nearly) equal size, FIN on the last only (§5.4), each masked from its
 * own first byte.
 */
function maskedFrames(payload, maskKey, count) {
  const step = Math.ceil(payload.length / count);
  const frames = [];
  for (let i = 0; i < count; i++) {
    const piece = payload.subarray(Math.min(i * step, payload.length), (i + 1) * step);
    const header = frameHeader(i === 0 ? 2 : 0, piece.length, maskKey);
    if (i < count - 1) header[0] &= 0x7f;
    const frame = Buffer.allocUnsafe(header.length + piece.length);
    frame.set(header);
    const start = header.length;
    for (let j = 0; j < piece.length; j++) frame[start + j] = piece[j] ^ maskKey[j & 3];
    frames.push(frame);
  }
  return Buffer.concat(frames);
}

/** The server's reply: same payload, unmasked, minimal length encoding (§5.2). */
function echoFrame(payload) {
  return Buffer.concat([frameHeader(2, payload.length), payload]);
}

function upgradeRequest(index) {
  const key = Buffer.alloc(16);
  randomFillSync(key);
  return Buffer.from(
    `GET ${values.path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key.toString("base64")}\r\n` +
      `Sec-WebSocket-Version: 13\r\nUser-Agent: edgesocket-loadgen/${index}\r\n\r\n`,
  );
}

// ---------------------------------------------------------------------------
// Latency histogram: log-linear, 32 sub-buckets per power of two (~3%).

const SUB = 32;
const histogram = new Float64Array(64 * SUB);
function bucketOf(us) {
  if (us < SUB) return us < 0 ? 0 : Math.floor(us);
  const e = Math.floor(Math.log2(us));
  const sub = Math.floor(us / 2 ** (e - 5)) - SUB; // 0..31
  return SUB + (e - 5) * SUB + sub;
}
function bucketValue(index) {
  if (index < SUB) return index + 0.5;
  const e = Math.floor((index - SUB) / SUB) + 5;
  const sub = (index - SUB) % SUB;
  return (SUB + sub + 0.5) * 2 ** (e - 5);
}
function percentile(p) {
  let total = 0;
  for (const count of histogram) total += count;
  if (total === 0) return null;
  const target = total * p;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i];
    if (seen >= target) return Math.round(bucketValue(i));
  }
  return null;
}

// ---------------------------------------------------------------------------
// Connections

function connect(index, onUpgraded, onError) {
  const socket = net.connect({ host, port, noDelay: true });
  let head = Buffer.alloc(0);
  let upgraded = false;
  socket.once("connect", () => socket.write(upgradeRequest(index)));
  const onHead = (chunk) => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end === -1) {
      if (head.length > 16384) onError(new Error("Response head too large"));
      return;
    }
    const status = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
    if (!/^HTTP\/1\.1 101 /.test(status)) {
      onError(new Error(`Upgrade refused: ${status}`));
      return;
    }
    upgraded = true;
    socket.off("data", onHead);
    onUpgraded(socket, head.subarray(end + 4));
  };
  socket.on("data", onHead);
  socket.on("error", (error) => {
    if (!upgraded) onError(error);
  });
  return socket;
}

async function openAll(count, open) {
  const batch = Number(values["connect-batch"]);
  const results = [];
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    results.push(...await Promise.all(Array.from({ length: n }, (_, j) => open(i + j))));
  }
  return results;
}

// ---------------------------------------------------------------------------
// Idle mode

async function idleMode(count) {
  const started = performance.now();
  const sockets = await openAll(count, (index) =>
    new Promise((resolve, reject) => {
      if (values.raw) {
        const socket = net.connect({ host, port, noDelay: true });
        socket.once("connect", () => {
          socket.write(upgradeRequest(index));
          resolve(socket);
        });
        socket.on("error", reject);
        socket.on("data", () => {});
        return;
      }
      connect(index, (socket) => {
        socket.on("data", () => {});
        resolve(socket);
      }, reject);
    }));
  console.log(
    `READY ${
      JSON.stringify({ connections: sockets.length, ms: Math.round(performance.now() - started) })
    }`,
  );
  const done = () => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  };
  process.on("SIGTERM", done);
  process.stdin.on("end", done);
  process.stdin.resume();
  setTimeout(done, Number(values.hold) * 1000);
}

// ---------------------------------------------------------------------------
// Echo mode

async function echoMode() {
  const size = Number(values.size);
  const conns = Number(values.conns);
  const inflight = Number(values.inflight);
  const duration = Number(values.duration) * 1000;
  const warmup = Number(values.warmup) * 1000;

  let measuring = false;
  let stopped = false;
  let messages = 0;
  let errors = 0;
  let firstError = null;
  const states = [];

  function error(state, message) {
    errors++;
    firstError ??= message;
    state.socket.destroy();
    state.dead = true;
  }

  const open = (index) =>
    new Promise((resolve, reject) => {
      const payload = Buffer.allocUnsafe(size);
      randomFillSync(payload);
      const maskKey = Buffer.allocUnsafe(4);
      randomFillSync(maskKey);
      const frame = maskedFrames(payload, maskKey, fragments);
      // `inflight` copies back to back: a refill of k frames is one write of a prefix.
      const frames = Buffer.concat(Array.from({ length: inflight }, () => frame));
      const expected = values.expect === "same" ? frame : echoFrame(payload);
      const state = {
        socket: undefined,
        frameLength: frame.length,
        frames,
        expected,
        offset: 0, // position in `expected` of the next byte to arrive
        sent: new Float64Array(inflight), // ring of send times, FIFO with replies
        head: 0,
        tail: 0,
        dead: false,
      };
      connect(index, (socket, rest) => {
        state.socket = socket;
        socket.on("data", (chunk) => onData(state, chunk));
        socket.on("error", (e) => error(state, `socket error: ${e.message}`));
        socket.on("close", () => {
          if (!stopped && !state.dead) error(state, "server closed the connection");
        });
        if (rest.length > 0) onData(state, rest);
        resolve(state);
      }, reject);
    });

  function send(state, count, now) {
    const ring = state.sent;
    for (let i = 0; i < count; i++) {
      ring[state.tail] = now;
      state.tail = (state.tail + 1) % ring.length;
    }
    state.socket.write(
      count === state.frames.length / state.frameLength
        ? state.frames
        : state.frames.subarray(0, count * state.frameLength),
    );
  }

  function onData(state, chunk) {
    if (state.dead) return;
    const expected = state.expected;
    const total = expected.length;
    let position = 0;
    let completed = 0;
    const now = performance.now();
    while (position < chunk.length) {
      const n = Math.min(total - state.offset, chunk.length - position);
      if (
        chunk.compare(expected, state.offset, state.offset + n, position, position + n) !== 0
      ) {
        error(state, `echo mismatch at frame byte ${state.offset}`);
        return;
      }
      position += n;
      state.offset += n;
      if (state.offset === total) {
        state.offset = 0;
        completed++;
      }
    }
    if (completed === 0) return;
    const ring = state.sent;
    for (let i = 0; i < completed; i++) {
      if (measuring) {
        histogram[bucketOf((now - ring[state.head]) * 1000)]++;
      }
      state.head = (state.head + 1) % ring.length;
    }
    if (measuring) messages += completed;
    if (!stopped) send(state, completed, now);
  }

  const connectStarted = performance.now();
  const all = await openAll(conns, open);
  const connectMs = performance.now() - connectStarted;
  states.push(...all);
  const now = performance.now();
  for (const state of states) send(state, inflight, now);

  await new Promise((r) => setTimeout(r, warmup));
  measuring = true;
  const started = performance.now();
  const serverBefore = serverUsage();
  const ownBefore = process.cpuUsage();
  await new Promise((r) => setTimeout(r, duration));
  measuring = false;
  const serverAfter = serverUsage();
  const own = process.cpuUsage(ownBefore);
  const seconds = (performance.now() - started) / 1000;
  stopped = true;
  for (const state of states) state.socket.destroy();

  const result = {
    label: values.label,
    size,
    conns,
    inflight,
    seconds: Number(seconds.toFixed(3)),
    messages,
    msgPerSec: Math.round(messages / seconds),
    mbPerSec: Number((messages * size / seconds / 1e6).toFixed(2)),
    p50Us: percentile(0.5),
    p99Us: percentile(0.99),
    connectMs: Math.round(connectMs),
    errors,
  };
  if (serverBefore !== undefined && serverAfter !== undefined && messages > 0) {
    result.serverCpuUsPerMsg = Number(
      ((serverAfter.cpuUs - serverBefore.cpuUs) / messages).toFixed(2),
    );
    result.serverFaultsPerMsg = Number(
      ((serverAfter.faults - serverBefore.faults) / messages).toFixed(2),
    );
  }
  // The generator's own CPU per echo: at equal server CPU per echo, a lower
  // rate with a busier generator points at what the server sends.
  if (messages > 0) {
    result.loadCpuUsPerMsg = Number(((own.user + own.system) / messages).toFixed(2));
  }
  if (firstError) result.firstError = firstError;
  console.log(JSON.stringify(result));
  process.exit(errors > 0 ? 1 : 0);
}

try {
  if (values.idle !== undefined) await idleMode(Number(values.idle));
  else await echoMode();
} catch (error) {
  fail(error.message);
}
