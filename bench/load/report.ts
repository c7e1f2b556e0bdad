/**
 * Turns a results file of the echo matrix into medians, ratios, a Markdown
 * report and an SVG chart. Used by `run.ts`; also runnable on its own to
 * re-render a committed results file:
 *
 *   deno run -R -W bench/load/report.ts bench/results/<date>.json
 *
 * @module
 */

import { nativeOf, type Runtime, type ServerKind } from "./servers.ts";

/** One load generator run. */
export interface Run {
  server: string;
  size: number;
  conns: number;
  inflight: number;
  rep: number;
  msgPerSec: number;
  mbPerSec: number;
  p50Us: number | null;
  p99Us: number | null;
  /** The server's CPU time (user + system) per echo in the measured window, in µs. */
  cpuUsPerMsg?: number | null;
  /** The server's minor page faults per echo in the measured window. */
  faultsPerMsg?: number | null;
  /** The load generator's own CPU time per echo in the measured window, in µs. */
  loadCpuUsPerMsg?: number | null;
  errors: number;
  firstError?: string;
}

/** Per-idle-connection memory of one server. */
export interface MemoryFigure {
  server: string;
  connections: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  perConnKiB: number;
  /** The bare TCP server of the same runtime and socket API. */
  bare?: string;
  /** `perConnKiB` minus the bare server's. */
  aboveBareKiB?: number;
}

/** A server as recorded in the results. */
export interface ServerInfo {
  name: string;
  runtime: Runtime;
  kind: ServerKind;
  wraps?: string;
  /** The bare TCP echo on its runtime's socket API. */
  ceiling?: string;
}

/** The whole results file. */
export interface Results {
  date: string;
  machine: Record<string, string | number>;
  settings: Record<string, unknown>;
  servers: ServerInfo[];
  runs: Run[];
  memory: MemoryFigure[];
  elapsedSeconds: number;
}

/** The median of a cell. */
export interface Cell {
  server: string;
  size: number;
  conns: number;
  msgPerSec: number;
  mbPerSec: number;
  p50Us: number | null;
  p99Us: number | null;
  cpuUsPerMsg: number | null;
  runs: number;
  errors: number;
}

/**
 * The median; `NaN` for no values.
 *
 * @param values The values.
 * @returns Their median.
 */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Two servers' runs of one cell and repetition: they ran back to back. */
export interface Pair {
  a: Run;
  b: Run;
}

/**
 * The runs of servers A and B that ran back to back (same cell, same
 * repetition, neither with errors), grouped by cell as `size|conns`.
 *
 * @param runs The runs of one `run.ts` results file.
 * @param nameA Server A.
 * @param nameB Server B.
 * @returns Pairs per cell, in repetition order.
 */
export function pairedRuns(runs: Run[], nameA: string, nameB: string): Map<string, Pair[]> {
  const ofA = new Map<string, Run>();
  for (const run of runs) {
    if (run.server === nameA && run.errors === 0) {
      ofA.set(`${run.size}|${run.conns}|${run.rep}`, run);
    }
  }
  const cells = new Map<string, Pair[]>();
  for (const b of runs) {
    if (b.server !== nameB || b.errors !== 0) continue;
    const a = ofA.get(`${b.size}|${b.conns}|${b.rep}`);
    if (a === undefined) continue;
    const key = `${b.size}|${b.conns}`;
    const pairs = cells.get(key) ?? [];
    cells.set(key, pairs);
    pairs.push({ a, b });
  }
  for (const pairs of cells.values()) pairs.sort((x, y) => x.a.rep - y.a.rep);
  return cells;
}

/** A geometric mean of ratios with its 95% interval. */
export interface Interval {
  /** The geometric mean. */
  mean: number;
  /** The interval's bounds (Student's t on the log ratios). */
  low: number;
  high: number;
  /** How many ratios. */
  n: number;
}

// Two-sided 95% quantiles of Student's t, by degrees of freedom (index).
const T95 = [NaN, 12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.2, 2.18, 2.16];

/**
 * The geometric mean of per-pair ratios (server B over A, one per repetition
 * in which the two ran back to back) with a 95% interval. Log ratios because
 * ratios multiply: 0.5× and 2× are equally far from 1×.
 *
 * @param ratios The ratios (at least two for an interval).
 * @returns The interval, or `undefined` for fewer than two ratios.
 */
export function interval(ratios: number[]): Interval | undefined {
  const n = ratios.length;
  if (n < 2) return undefined;
  const logs = ratios.map(Math.log);
  const mean = logs.reduce((sum, x) => sum + x, 0) / n;
  const sd = Math.sqrt(logs.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (n - 1));
  const half = (T95[n - 1] ?? 2.1) * sd / Math.sqrt(n);
  return { mean: Math.exp(mean), low: Math.exp(mean - half), high: Math.exp(mean + half), n };
}

/**
 * Medians per server and cell (runs with errors count as errors, not as figures).
 *
 * @param results The results.
 * @returns Cells keyed `server|size|conns`.
 */
export function medians(results: Results): Map<string, Cell> {
  const groups = new Map<string, Run[]>();
  for (const run of results.runs) {
    const key = `${run.server}|${run.size}|${run.conns}`;
    groups.set(key, [...groups.get(key) ?? [], run]);
  }
  const cells = new Map<string, Cell>();
  for (const [key, runs] of groups) {
    const good = runs.filter((r) => r.errors === 0);
    const pick = (f: (r: Run) => number | null): number | null => {
      const values = good.map(f).filter((v): v is number => v !== null);
      return values.length ? median(values) : null;
    };
    cells.set(key, {
      server: runs[0].server,
      size: runs[0].size,
      conns: runs[0].conns,
      msgPerSec: pick((r) => r.msgPerSec) ?? 0,
      mbPerSec: pick((r) => r.mbPerSec) ?? 0,
      p50Us: pick((r) => r.p50Us),
      p99Us: pick((r) => r.p99Us),
      cpuUsPerMsg: pick((r) => r.cpuUsPerMsg ?? null),
      runs: runs.length,
      errors: runs.reduce((n, r) => n + (r.errors > 0 ? 1 : 0), 0),
    });
  }
  return cells;
}

/**
 * A message size as the tables print it: `32 B`, `64 KiB`, `1 MiB`.
 *
 * @param size Bytes.
 * @returns The label.
 */
export const fmtSize = (size: number): string =>
  size >= 1 << 20 ? `${size >> 20} MiB` : size >= 1024 ? `${size >> 10} KiB` : `${size} B`;
const fmtRate = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : `${Math.round(n)}`;
/**
 * A ratio as the tables print it: `0.93×`, or `–` when there is none.
 *
 * @param r The ratio.
 * @returns The label.
 */
export const fmtRatio = (r: number | undefined): string =>
  r === undefined ? "–" : `${r.toFixed(2)}×`;
/**
 * CPU time per echo as the tables print it: `1.43`, `72.1`, `1205`, or `–`.
 *
 * @param us Microseconds, or `null` when not measured.
 * @returns The label.
 */
export const fmtCpu = (us: number | null): string =>
  us === null ? "–" : us < 10 ? us.toFixed(2) : us < 100 ? us.toFixed(1) : us.toFixed(0);
const fmtUs = (us: number | null): string =>
  us === null
    ? "–"
    : us >= 1e6
    ? `${(us / 1e6).toFixed(2)} s`
    : us >= 1000
    ? `${(us / 1000).toFixed(1)} ms`
    : `${us} µs`;

/** The servers with at least one cell, in table order. */
function measured(results: Results, cells: Map<string, Cell>): ServerInfo[] {
  return results.servers.filter((s) => [...cells.values()].some((c) => c.server === s.name));
}

function dims(results: Results): { sizes: number[]; conns: number[] } {
  const sizes = [...new Set(results.runs.map((r) => r.size))].sort((a, b) => a - b);
  const conns = [...new Set(results.runs.map((r) => r.conns))].sort((a, b) => a - b);
  return { sizes, conns };
}

/** Ratios of one cell's median to the references of its server. */
export interface Ratios {
  ws?: number;
  wsBufferutil?: number;
  native?: number;
  wrapped?: number;
  /** To the bare TCP echo on the same socket API. */
  ceiling?: number;
}

/**
 * The ratios of one server's cell.
 *
 * @param results The results.
 * @param cells Their medians.
 * @returns A function from server name, size and conns to the ratios.
 */
export function ratios(
  results: Results,
  cells: Map<string, Cell>,
): (server: string, size: number, conns: number) => Ratios {
  return (server, size, conns) => {
    const info = results.servers.find((s) => s.name === server);
    const value = cells.get(`${server}|${size}|${conns}`)?.msgPerSec;
    const of = (other: string | undefined): number | undefined => {
      if (!other || other === server || value === undefined) return undefined;
      const reference = cells.get(`${other}|${size}|${conns}`)?.msgPerSec;
      return reference ? value / reference : undefined;
    };
    return {
      ws: of("ws"),
      wsBufferutil: of("ws+bufferutil"),
      native: info ? of(nativeOf(info.runtime)) : undefined,
      wrapped: of(info?.wraps),
      ceiling: of(info?.ceiling),
    };
  };
}

/** A target's verdict. */
export interface Verdict {
  target: string;
  pass: boolean | null;
  detail: string;
}

/** One throughput target of the issue, for one server: a ratio to another server. */
export interface TargetRule {
  target: string;
  /** The server the ratio is taken to. */
  reference: string;
  threshold: number;
  /** The target covers only messages of at least this size. */
  minSize: number;
}

/**
 * The throughput targets that apply to a server.
 *
 * @param server The server.
 * @returns Its targets (none for peers, native and bare servers).
 */
export function targetRules(server: ServerInfo): TargetRule[] {
  const rules: TargetRule[] = [];
  if (server.kind === "codec") {
    rules.push(
      { target: "≥ 1.0× ws in every cell", reference: "ws", threshold: 1.0, minSize: 0 },
      {
        target: "≥ 1.0× ws+bufferutil at 64 KiB and 1 MiB",
        reference: "ws+bufferutil",
        threshold: 1.0,
        minSize: 65536,
      },
    );
    const native = nativeOf(server.runtime);
    if (server.runtime === "deno" && native) {
      rules.push({
        target: "≥ 0.9× Deno native in every cell",
        reference: native,
        threshold: 0.9,
        minSize: 0,
      });
    }
  }
  if (server.kind === "native-backed" && server.wraps) {
    rules.push({
      target: "≥ 0.95× the native server it wraps",
      reference: server.wraps,
      threshold: 0.95,
      minSize: 0,
    });
  }
  return rules;
}

/** A cell where a server missed one of its targets. */
export interface Miss {
  server: string;
  rule: TargetRule;
  size: number;
  conns: number;
  /** The server's messages/s over the reference's (medians). */
  ratio: number;
}

/** Every measured cell of a rule, with its ratio. */
function ruleCells(
  results: Results,
  cells: Map<string, Cell>,
  server: string,
  rule: TargetRule,
): { size: number; conns: number; ratio: number }[] {
  const { sizes, conns } = dims(results);
  const out: { size: number; conns: number; ratio: number }[] = [];
  for (const size of sizes.filter((z) => z >= rule.minSize)) {
    for (const c of conns) {
      const value = cells.get(`${server}|${size}|${c}`)?.msgPerSec;
      const reference = cells.get(`${rule.reference}|${size}|${c}`)?.msgPerSec;
      if (value !== undefined && reference) out.push({ size, conns: c, ratio: value / reference });
    }
  }
  return out;
}

/**
 * The cells where a throughput target was missed, for a closer look
 * (`bench/load/recheck.ts` measures each again in longer cells).
 *
 * @param results The results.
 * @returns The misses, in table order.
 */
export function misses(results: Results): Miss[] {
  const cells = medians(results);
  return results.servers.flatMap((server) =>
    targetRules(server).flatMap((rule) =>
      ruleCells(results, cells, server.name, rule)
        .filter((cell) => cell.ratio < rule.threshold)
        .map((cell) => ({ server: server.name, rule, ...cell }))
    )
  );
}

/**
 * Checks the issue's targets against one run's ratios.
 *
 * @param results The results.
 * @returns One verdict per target and server.
 */
export function verdicts(results: Results): Verdict[] {
  const cells = medians(results);
  const ratio = ratios(results, cells);
  const { sizes, conns } = dims(results);
  const out: Verdict[] = [];
  for (const server of results.servers) {
    for (const rule of targetRules(server)) {
      const target = `${server.name}: ${rule.target}`;
      const measured = ruleCells(results, cells, server.name, rule);
      if (measured.length === 0) {
        out.push({ target, pass: null, detail: "not measured" });
        continue;
      }
      const worst = measured.reduce((a, b) => b.ratio < a.ratio ? b : a);
      out.push({
        target,
        pass: worst.ratio >= rule.threshold,
        detail: `worst ${worst.ratio.toFixed(3)}× (${fmtSize(worst.size)} × ${worst.conns})`,
      });
    }
    if (
      server.kind === "codec" && server.ceiling &&
      results.servers.some((s) => s.name === server.ceiling)
    ) {
      // Context, not a target: how far the transport alone gets against
      // ws+bufferutil, and how close this server comes to it.
      const large = sizes.filter((s) => s >= 65536);
      const range = (pick: (r: Ratios) => number | undefined, name: string): string => {
        const values = large.flatMap((z) => conns.map((c) => pick(ratio(name, z, c))))
          .filter((v): v is number => v !== undefined);
        return values.length
          ? `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}×`
          : "–";
      };
      out.push({
        target: `${server.name}: its transport alone (${server.ceiling}), at 64 KiB and 1 MiB`,
        pass: null,
        detail: `the bare echo is ${
          range((r) => r.wsBufferutil, server.ceiling)
        } ws+bufferutil; this server is ${range((r) => r.ceiling, server.name)} the bare echo`,
      });
    }
  }
  for (const figure of results.memory) {
    const info = results.servers.find((s) => s.name === figure.server);
    if (info?.kind !== "codec" || figure.aboveBareKiB === undefined) continue;
    out.push({
      target: `${figure.server}: idle memory ≤ 16 KiB above ${figure.bare}`,
      pass: figure.aboveBareKiB <= 16,
      detail: `${figure.aboveBareKiB.toFixed(1)} KiB above (${
        figure.perConnKiB.toFixed(1)
      } KiB/conn)`,
    });
  }
  return out;
}

/**
 * The Markdown report: throughput tables with ratios, latency, memory, targets.
 *
 * @param results The results.
 * @returns Markdown.
 */
export function renderMarkdown(results: Results): string {
  const cells = medians(results);
  const ratio = ratios(results, cells);
  const { sizes, conns } = dims(results);
  const servers = measured(results, cells).map((s) => s.name);
  const lines: string[] = [];
  const m = results.machine;
  lines.push(`# Echo benchmark, ${results.date}`, "");
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory}, ${m.kernel}. ` +
      `Node ${m.node}, Deno ${m.deno}, Bun ${m.bun}. Run took ${
        Math.round(results.elapsedSeconds)
      } s.`,
    "",
  );
  const s = results.settings;
  lines.push(
    `Load generator: \`bench/load/loadgen.mjs\` (Node, raw TCP, pre-masked binary frames, ` +
      `every echoed byte checked). Each cell: ${s.duration} s measured after ${s.warmup} s warm-up, ` +
      `${s.reps} runs interleaved across servers, median shown. In flight per connection: ` +
      `${s.inflightRule}. Messages/s counts echoes received; ratios are of messages/s in ` +
      `the same run. \`es\` = edgesocket.`,
    "",
  );
  lines.push("## Messages/s (median) and ratios", "");
  lines.push(
    "`×ws`: to ws without bufferutil; `×buf`: to ws with bufferutil; `×nat`: to the " +
      "runtime's native server (Deno.serve / Bun.serve); for native-backed adapters, to the " +
      "native server they wrap; `×tcp`: to a bare TCP echo on the same runtime and socket " +
      "API (`tcp echo …`, no WebSocket work: the transport's ceiling).",
    "",
  );
  for (const size of sizes) {
    lines.push(`### ${fmtSize(size)}`, "");
    lines.push(`| server | ${conns.map((c) => `${c} conn${c > 1 ? "s" : ""}`).join(" | ")} |`);
    lines.push(`| --- | ${conns.map(() => "---").join(" | ")} |`);
    for (const server of servers) {
      const row = conns.map((c) => {
        const cell = cells.get(`${server}|${size}|${c}`);
        if (!cell) return "–";
        if (cell.errors === cell.runs) return "errors";
        const r = ratio(server, size, c);
        const parts = [];
        if (r.ws !== undefined) parts.push(`${fmtRatio(r.ws)} ws`);
        if (r.wsBufferutil !== undefined && size >= 65536) {
          parts.push(`${fmtRatio(r.wsBufferutil)} buf`);
        }
        if (r.wrapped !== undefined) parts.push(`${fmtRatio(r.wrapped)} nat`);
        else if (r.native !== undefined) parts.push(`${fmtRatio(r.native)} nat`);
        if (r.ceiling !== undefined) parts.push(`${fmtRatio(r.ceiling)} tcp`);
        const errors = cell.errors ? ` (${cell.errors} failed)` : "";
        return `${fmtRate(cell.msgPerSec)}${parts.length ? ` (${parts.join(", ")})` : ""}${errors}`;
      });
      lines.push(`| ${server} | ${row.join(" | ")} |`);
    }
    lines.push("");
  }
  lines.push("## MB/s of echoed payload and latency p50 / p99 (medians)", "");
  lines.push(
    `| server | ${sizes.flatMap((z) => conns.map((c) => `${fmtSize(z)}×${c}`)).join(" | ")} |`,
  );
  lines.push(`| --- | ${sizes.flatMap(() => conns.map(() => "---")).join(" | ")} |`);
  for (const server of servers) {
    const row = sizes.flatMap((z) =>
      conns.map((c) => {
        const cell = cells.get(`${server}|${z}|${c}`);
        return cell
          ? `${cell.mbPerSec.toFixed(cell.mbPerSec < 10 ? 2 : 0)} MB/s ${fmtUs(cell.p50Us)} / ${
            fmtUs(cell.p99Us)
          }`
          : "–";
      })
    );
    lines.push(`| ${server} | ${row.join(" | ")} |`);
  }
  lines.push("");
  if (results.runs.some((run) => typeof run.cpuUsPerMsg === "number")) {
    lines.push("## Server CPU time per echo, µs (medians)", "");
    lines.push(
      "User + system time of the server process over the measured window (from /proc, 10 ms " +
        "ticks) divided by the echoes: where a server is slower, whether it works more per " +
        "message or waits more.",
      "",
    );
    lines.push(
      `| server | ${sizes.flatMap((z) => conns.map((c) => `${fmtSize(z)}×${c}`)).join(" | ")} |`,
    );
    lines.push(`| --- | ${sizes.flatMap(() => conns.map(() => "---")).join(" | ")} |`);
    for (const server of servers) {
      const row = sizes.flatMap((z) =>
        conns.map((c) => fmtCpu(cells.get(`${server}|${z}|${c}`)?.cpuUsPerMsg ?? null))
      );
      lines.push(`| ${server} | ${row.join(" | ")} |`);
    }
    lines.push("");
  }
  if (results.memory.length) {
    lines.push(`## Memory per idle connection (${results.memory[0].connections} connections)`, "");
    lines.push(
      "Server resident memory (VmRSS) after the connections are open and idle, minus before, " +
        "divided by the count. Bare servers accept TCP and keep a read pending; they are the " +
        "runtime's own per-socket cost.",
      "",
    );
    lines.push("| server | KiB per connection | bare TCP server | above bare |");
    lines.push("| --- | --- | --- | --- |");
    for (const f of results.memory) {
      lines.push(
        `| ${f.server} | ${f.perConnKiB.toFixed(1)} | ${f.bare ?? "–"} | ${
          f.aboveBareKiB === undefined ? "–" : `${f.aboveBareKiB.toFixed(1)} KiB`
        } |`,
      );
    }
    lines.push("");
  }
  lines.push("## Targets", "");
  lines.push("| target | result | |", "| --- | --- | --- |");
  for (const v of verdicts(results)) {
    lines.push(
      `| ${v.target} | ${v.pass === null ? "–" : v.pass ? "met" : "**missed**"} | ${v.detail} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

const COLORS: Record<string, string> = {
  "ws": "#9e9e9e",
  "ws+bufferutil": "#616161",
  "deno native": "#3949ab",
  "bun native": "#c62828",
  "es Deno.listen": "#7986cb",
  "es node:http@deno": "#9fa8da",
  "es node:http@node": "#43a047",
  "es node:http@bun": "#ef9a9a",
  "es Deno.serve": "#283593",
  "es Bun.serve": "#8e0000",
};

/**
 * A grouped bar chart of messages/s as a ratio to ws (log scale), one panel per size.
 *
 * @param results The results.
 * @returns SVG text.
 */
export function renderSvg(results: Results): string {
  const cells = medians(results);
  const { sizes, conns } = dims(results);
  const servers = measured(results, cells).filter((s) => s.kind !== "ceiling").map((s) => s.name);
  const barW = 7, gap = 10, groupW = servers.length * barW + gap;
  const panelW = conns.length * groupW + 30, panelH = 220, top = 40, left = 50;
  const width = left + sizes.length * panelW + 10;
  const legendRows = Math.ceil(servers.length / 5);
  const height = top + panelH + 40 + legendRows * 18 + 10;
  const minLog = -2, maxLog = 4; // 0.25× .. 16×
  const y = (ratio: number): number => {
    const l = Math.min(maxLog, Math.max(minLog, Math.log2(ratio)));
    return top + panelH - ((l - minLog) / (maxLog - minLog)) * panelH;
  };
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="18" font-size="13" font-weight="bold">Echo messages/s relative to ws ` +
      `(no bufferutil), log scale; median of ${results.settings.reps} runs, ${results.date}</text>`,
  );
  for (let l = minLog; l <= maxLog; l++) {
    const yy = y(2 ** l);
    out.push(
      `<line x1="${left}" x2="${width - 10}" y1="${yy}" y2="${yy}" stroke="${
        l === 0 ? "#000" : "#ddd"
      }"/>`,
      `<text x="${left - 5}" y="${yy + 4}" text-anchor="end">${
        l < 0 ? `1/${2 ** -l}` : 2 ** l
      }×</text>`,
    );
  }
  sizes.forEach((size, p) => {
    const x0 = left + p * panelW + 15;
    out.push(
      `<text x="${x0 + (panelW - 30) / 2}" y="${top - 6}" text-anchor="middle" ` +
        `font-weight="bold">${fmtSize(size)}</text>`,
    );
    conns.forEach((c, g) => {
      const gx = x0 + g * groupW;
      servers.forEach((server, i) => {
        const cell = cells.get(`${server}|${size}|${c}`);
        const ws = cells.get(`ws|${size}|${c}`)?.msgPerSec;
        if (!cell || !ws || cell.msgPerSec === 0) return;
        const r = cell.msgPerSec / ws;
        const base = y(1), yy = y(r);
        out.push(
          `<rect x="${gx + i * barW}" y="${Math.min(base, yy).toFixed(1)}" width="${barW - 1}" ` +
            `height="${Math.abs(base - yy).toFixed(1)}" fill="${COLORS[server] ?? "#000"}">` +
            `<title>${server}, ${fmtSize(size)} × ${c}: ${fmtRate(cell.msgPerSec)} msg/s, ` +
            `${r.toFixed(2)}× ws</title></rect>`,
        );
      });
      out.push(
        `<text x="${gx + (servers.length * barW) / 2}" y="${top + panelH + 14}" ` +
          `text-anchor="middle">${c} conn${c > 1 ? "s" : ""}</text>`,
      );
    });
  });
  servers.forEach((server, i) => {
    const lx = left + (i % 5) * 180, ly = top + panelH + 36 + Math.floor(i / 5) * 18;
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[server] ?? "#000"}"/>`,
      `<text x="${lx + 14}" y="${ly}">${server}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) throw new TypeError("Usage: report.ts <results.json>");
  const results = JSON.parse(await Deno.readTextFile(path)) as Results;
  await Deno.writeTextFile(path.replace(/\.json$/, ".md"), renderMarkdown(results));
  await Deno.writeTextFile(path.replace(/\.json$/, ".svg"), renderSvg(results));
}
