/**
 * The echo matrix: every server in `servers.ts` × message sizes ×
 * connection counts, interleaved and repeated, then the idle-memory figure.
 * Writes `bench/results/<date>.{json,md,svg}` and prints the Markdown.
 *
 *   deno task bench:echo [--duration 0.6] [--warmup 0.2] [--reps 3]
 *     [--sizes 32,1024,65536,1048576] [--conns 1,16,256] [--servers a,b]
 *     [--cells 65536x16,1048576x256] [--memory-conns 5000] [--no-memory]
 *     [--no-save] [--out bench/results] [--json path] [--ceiling]
 *
 * `--cells` lists size×connections cells instead of every size with every
 * connection count; `--json` writes the results file there as well (what
 * `bench/load/recheck.ts` reads back). `--tree <dir>` runs the servers of
 * another checkout (their scripts and the library they import; the load
 * generator stays this one): how `bench/load/ab.ts` compares two commits.
 *
 * `--ceiling` runs the bare TCP echo servers (each codec-backed server's
 * transport with no WebSocket work) with the servers that have one (ws and
 * the codec-backed ones); `deno task bench:ceiling` does that for the
 * large-message cells only, into `bench/results/ceiling/`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { log } from "./_run_cells.ts";
import { type MemoryFigure, renderMarkdown, renderSvg, type Results, type Run } from "./report.ts";
import { BARE_SERVERS, SERVERS, type ServerSpec } from "./servers.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const BUN = `${ROOT}node_modules/.bin/bun`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "0.6" },
    warmup: { type: "string", default: "0.2" },
    reps: { type: "string", default: "3" },
    sizes: { type: "string", default: "32,1024,65536,1048576" },
    conns: { type: "string", default: "1,16,256" },
    servers: { type: "string" },
    cells: { type: "string" },
    json: { type: "string" },
    tree: { type: "string" },
    "memory-conns": { type: "string", default: "5000" },
    "no-memory": { type: "boolean", default: false },
    "no-save": { type: "boolean", default: false },
    ceiling: { type: "boolean", default: false },
    out: { type: "string", default: `${ROOT}bench/results` },
  },
});
/** The checkout whose servers run (`--tree`), and where its Node bundles go. */
const TREE = values.tree ? `${values.tree.replace(/\/$/, "")}/` : ROOT;
const SERVERS_DIR = `${TREE}bench/load/servers/`;
const OUT = `${TREE}bench/out/`;
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const reps = Number(values.reps);
/** The cells to run: `--cells`, or every size with every connection count. */
const cells = values.cells
  ? values.cells.split(",").map((cell) => {
    const [size, conns] = cell.split("x").map(Number);
    if (!(size > 0 && conns > 0)) throw new Error(`--cells: ${cell} is not SIZExCONNS`);
    return { size, conns };
  })
  : values.sizes.split(",").map(Number).flatMap((size) =>
    values.conns.split(",").map(Number).map((conns) => ({ size, conns }))
  );
const sizes = [...new Set(cells.map((cell) => cell.size))];
const connCounts = [...new Set(cells.map((cell) => cell.conns))];
const memoryConns = Number(values["memory-conns"]);
const started = performance.now();

/** At most 16 in flight, and about 32 MiB in flight in total (at least 1 each). */
function inflightFor(size: number, conns: number): number {
  return Math.min(16, Math.max(1, Math.floor((32 << 20) / (size * conns))));
}
const INFLIGHT_RULE = "min(16, max(1, ⌊32 MiB / (size × connections)⌋))";

/** The largest cell is slow to reach a steady state: give it twice the time. */
function timeFor(size: number, conns: number): { duration: number; warmup: number } {
  const heavy = size * conns >= (256 << 20);
  return heavy ? { duration: duration * 2, warmup: warmup * 2 } : { duration, warmup };
}

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).trim().split("\n")[0];
  } catch {
    return "unknown";
  }
}

async function machine(): Promise<Record<string, string | number>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const meminfo = await Deno.readTextFile("/proc/meminfo");
  const memKiB = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
  return {
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memory: `${(memKiB / 1024 / 1024).toFixed(0)} GiB RAM`,
    kernel: `Linux ${Deno.osRelease()}`,
    node: await version("node", ["--version"]),
    deno: Deno.version.deno,
    bun: await version(BUN, ["--version"]),
    ws: JSON.parse(await Deno.readTextFile(`${ROOT}node_modules/ws/package.json`)).version,
  };
}

// ---------------------------------------------------------------------------
// Servers

interface Running {
  spec: ServerSpec;
  child: Deno.ChildProcess;
  port: number;
  dead: boolean;
  stopping: boolean;
}

async function bundleFor(spec: ServerSpec): Promise<string> {
  const output = `${OUT}${spec.script.replace(/\.ts$/, ".mjs")}`;
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "-o", output, `${SERVERS_DIR}${spec.script}`],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(`Bundling ${spec.script} failed: ${new TextDecoder().decode(result.stderr)}`);
  }
  return output;
}

function commandFor(spec: ServerSpec, script: string): { cmd: string; args: string[] } {
  switch (spec.runtime) {
    case "deno":
      return { cmd: Deno.execPath(), args: ["run", "-A", script, "0"] };
    case "bun":
      return { cmd: BUN, args: [script, "0"] };
    case "node":
      return { cmd: "node", args: [script, "0"] };
  }
}

async function start(spec: ServerSpec): Promise<Running> {
  const script = spec.bundle ? await bundleFor(spec) : `${SERVERS_DIR}${spec.script}`;
  const { cmd, args } = commandFor(spec, script);
  const child = new Deno.Command(cmd, {
    args,
    cwd: TREE,
    env: spec.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const running: Running = { spec, child, port: 0, dead: false, stopping: false };
  // Keep stderr drained; show it if the server dies on its own.
  const stderr: string[] = [];
  const drained = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr.push(text);
      if (stderr.length > 50) stderr.shift();
    }
  })();
  child.status.then(async (status) => {
    running.dead = true;
    await drained;
    if (!running.stopping) {
      log(`[${spec.name}] died (${status.code}): ${stderr.join("").slice(-2000)}`);
    }
  });
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 15_000);
  while (!buffered.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`${spec.name} exited before listening: ${stderr.join("")}`);
    buffered += value;
  }
  clearTimeout(deadline);
  const match = /LISTENING (\d+)/.exec(buffered);
  if (!match) throw new Error(`${spec.name} printed ${JSON.stringify(buffered)}`);
  running.port = Number(match[1]);
  // Drain the rest of stdout.
  (async () => {
    while (!(await lines.read()).done);
  })();
  return running;
}

async function stop(running: Running): Promise<void> {
  running.stopping = true;
  if (!running.dead) {
    try {
      running.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await running.child.status;
}

function cpuTicks(pid: number): number {
  try {
    const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
}

/** Waits until a server stops burning CPU on the last run's backlog (at most 3 s). */
async function settle(pid: number): Promise<void> {
  let last = cpuTicks(pid);
  let quiet = 0;
  for (let waited = 0; waited < 3000 && quiet < 2; waited += 30) {
    await new Promise((r) => setTimeout(r, 30));
    const now = cpuTicks(pid);
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

// ---------------------------------------------------------------------------
// Load

async function loadgen(args: string[]): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("node", {
    args: [`${HERE}loadgen.mjs`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  try {
    return JSON.parse(text.split("\n").at(-1)!);
  } catch {
    return { errors: 1, firstError: new TextDecoder().decode(out.stderr).trim() || text };
  }
}

const available = (spec: ServerSpec): boolean =>
  (spec.needs ?? []).every((path) => {
    try {
      Deno.statSync(`${TREE}${path}`);
      return true;
    } catch {
      return false;
    }
  });

const filter = values.servers?.split(",");
// --ceiling: the bare echoes and the servers that have one (ws, codec-backed).
const specs = SERVERS.filter((s) =>
  filter
    ? filter.includes(s.name)
    : s.optIn
    ? false
    : values.ceiling
    ? s.kind === "ceiling" || s.ceiling !== undefined
    : s.kind !== "ceiling"
);
for (const spec of specs.filter((s) => !available(s))) {
  log(`skipping ${spec.name}: needs ${spec.needs?.join(", ")}`);
}
const chosen = specs.filter(available);

await Deno.mkdir(OUT, { recursive: true });
log(`starting ${chosen.length} servers`);
const running: Running[] = [];
for (const spec of chosen) running.push(await start(spec));

const runs: Run[] = [];
const total = reps * cells.length * running.length;
let done = 0;
for (let rep = 0; rep < reps; rep++) {
  for (const [index, { size, conns }] of cells.entries()) {
    // Rotate the order each cell and repetition, so no server always follows the same one.
    const shift = (rep * 3 + index) % running.length;
    const order = [...running.slice(shift), ...running.slice(0, shift)];
    for (const server of order) {
      done++;
      if (server.dead) {
        runs.push({
          server: server.spec.name,
          size,
          conns,
          inflight: 0,
          rep,
          msgPerSec: 0,
          mbPerSec: 0,
          p50Us: null,
          p99Us: null,
          errors: 1,
          firstError: "server died",
        });
        log(`[${done}/${total}] ${server.spec.name} ${size} B × ${conns}: server died`);
        continue;
      }
      const time = timeFor(size, conns);
      const inflight = inflightFor(size, conns);
      const result = await loadgen([
        "--port",
        String(server.port),
        "--size",
        String(size),
        "--conns",
        String(conns),
        "--inflight",
        String(inflight),
        "--duration",
        String(time.duration),
        "--warmup",
        String(time.warmup),
        "--label",
        server.spec.name,
        "--expect",
        server.spec.kind === "ceiling" ? "same" : "echo",
        "--server-pid",
        String(server.child.pid),
      ]);
      const run: Run = {
        server: server.spec.name,
        size,
        conns,
        inflight,
        rep,
        msgPerSec: Number(result.msgPerSec ?? 0),
        mbPerSec: Number(result.mbPerSec ?? 0),
        p50Us: (result.p50Us as number | null) ?? null,
        p99Us: (result.p99Us as number | null) ?? null,
        cpuUsPerMsg: (result.serverCpuUsPerMsg as number | undefined) ?? null,
        faultsPerMsg: (result.serverFaultsPerMsg as number | undefined) ?? null,
        loadCpuUsPerMsg: (result.loadCpuUsPerMsg as number | undefined) ?? null,
        errors: Number(result.errors ?? 1),
      };
      if (result.firstError) run.firstError = String(result.firstError);
      runs.push(run);
      await settle(server.child.pid);
      log(
        `[${done}/${total} ${((performance.now() - started) / 1000).toFixed(0)}s] ` +
          `${server.spec.name.padEnd(18)} ${String(size).padStart(7)} B × ${
            String(conns).padStart(3)
          }: ${run.msgPerSec} msg/s` +
          (run.cpuUsPerMsg != null ? `, ${run.cpuUsPerMsg} µs CPU/msg` : "") +
          (run.faultsPerMsg != null ? `, ${run.faultsPerMsg} faults/msg` : "") +
          (run.loadCpuUsPerMsg != null ? ` (load ${run.loadCpuUsPerMsg})` : "") +
          (run.errors ? ` ERRORS ${run.errors} ${run.firstError}` : ""),
      );
    }
  }
}
for (const server of running) await stop(server);

// ---------------------------------------------------------------------------
// Memory: fresh servers, N idle connections, RSS after minus before.

const memory: MemoryFigure[] = [];
if (!values["no-memory"]) {
  const bareNames = new Set(chosen.map((s) => s.bare).filter((b) => b !== undefined));
  const bares = BARE_SERVERS.filter((s) => bareNames.has(s.name));
  for (const spec of [...bares, ...chosen.filter((s) => s.kind !== "ceiling")]) {
    let server: Running | undefined;
    let idle: Deno.ChildProcess | undefined;
    try {
      server = await start(spec);
      await new Promise((r) => setTimeout(r, 500));
      const before = rssKiB(server.child.pid);
      idle = new Deno.Command("node", {
        args: [
          `${HERE}loadgen.mjs`,
          "--port",
          String(server.port),
          "--idle",
          String(memoryConns),
          ...(spec.kind === "bare" ? ["--raw"] : []),
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = idle.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("READY")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`idle load generator ended: ${text}`);
        text += value;
      }
      await new Promise((r) => setTimeout(r, 1500));
      const after = rssKiB(server.child.pid);
      const figure: MemoryFigure = {
        server: spec.name,
        connections: memoryConns,
        rssBeforeKiB: before,
        rssAfterKiB: after,
        perConnKiB: (after - before) / memoryConns,
      };
      if (spec.bare) {
        const bare = memory.find((f) => f.server === spec.bare);
        figure.bare = spec.bare;
        if (bare) figure.aboveBareKiB = figure.perConnKiB - bare.perConnKiB;
      }
      memory.push(figure);
      log(
        `[memory ${((performance.now() - started) / 1000).toFixed(0)}s] ${spec.name}: ` +
          `${figure.perConnKiB.toFixed(1)} KiB/conn (${before} → ${after} KiB)`,
      );
    } catch (error) {
      log(`[memory] ${spec.name}: ${error instanceof Error ? error.message : error}`);
    } finally {
      if (idle) {
        try {
          idle.kill("SIGKILL");
        } catch {
          // Gone.
        }
        await idle.status;
      }
      if (server) await stop(server);
    }
  }
}

const date = new Date().toISOString();
const results: Results = {
  date: date.slice(0, 10),
  machine: await machine(),
  settings: {
    duration,
    warmup,
    reps,
    sizes,
    conns: connCounts,
    inflightRule: INFLIGHT_RULE,
    heavyCell: "size × connections ≥ 256 MiB: twice the duration and warm-up",
    memoryConns,
    startedAt: date,
  },
  servers: chosen.map(({ name, runtime, kind, wraps, ceiling }) => ({
    name,
    runtime,
    kind,
    wraps,
    ceiling,
  })),
  runs,
  memory,
  elapsedSeconds: (performance.now() - started) / 1000,
};
if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(results, null, 1) + "\n");
const markdown = renderMarkdown(results);
console.log(markdown);
if (!values["no-save"]) {
  await Deno.mkdir(values.out, { recursive: true });
  const base = `${values.out}/${results.date}`;
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(results, null, 1) + "\n");
  await Deno.writeTextFile(`${base}.md`, markdown);
  await Deno.writeTextFile(`${base}.svg`, renderSvg(results));
  log(`wrote ${base}.{json,md,svg}`);
}
