// deno-lint-ignore-file no-console
/**
 * Side-by-side codec figures: this library's `WebSocketEngine` against the
 * `ws` receiver, on the same frames (`_frames.mjs`) and timed by the same
 * loop. Runs `ws_receiver.mjs` under Node (with and without `bufferutil`)
 * and under Deno, then prints a table. `--json` prints only JSON lines;
 * `--quick` shortens the timing rounds; `--self` times this library only.
 *
 * @module
 */

import { mask, WebSocketEngine } from "@edgesocket/core";
import { buildChunk, MASK_KEY, measure, PARSE_CASES, result, timingFromArgs } from "./_frames.mjs";

type Row = Record<string, string | number | boolean>;

const args = Deno.args;
const timing = timingFromArgs(args);
const jsonOnly = args.includes("--json");
const rows: Row[] = [];

function emit(row: Row): void {
  rows.push(row);
  if (jsonOnly) console.log(JSON.stringify(row));
}

function timeEngine(): void {
  const labels = { runtime: "deno", impl: "edgesocket" };
  for (const spec of PARSE_CASES) {
    const { chunk, frames } = buildChunk({
      opcode: spec.kind === "text" ? 1 : 2,
      payloadLength: spec.payloadLength,
      masked: spec.role === "server",
    });
    let delivered = 0;
    let bytes = 0;
    const engine = new WebSocketEngine({ role: spec.role, maxFrameSize: 2 ** 21 }, {
      text: (data) => {
        delivered++;
        bytes += data.length;
      },
      binary: (data) => {
        delivered++;
        bytes += data.length;
      },
      error: (error) => {
        throw error;
      },
      close: () => {
        throw new Error("Unexpected close");
      },
    });
    // Correctness check outside the timed loop (ASCII: string length = bytes).
    engine.receive(chunk);
    if (delivered !== frames || bytes !== frames * spec.payloadLength) {
      throw new Error(`Engine delivered ${delivered} of ${frames} frames`);
    }
    const ns = measure(() => engine.receive(chunk), timing);
    emit(result(
      { ...labels, bench: "parse", role: spec.role, kind: spec.kind },
      { nsPerChunk: ns, frames, payloadLength: spec.payloadLength },
    ));
  }
  const data = new Uint8Array(1024 * 1024).fill(0x61);
  const key = new Uint8Array(MASK_KEY);
  const ns = measure(() => mask(data, key), timing);
  emit(result(
    { ...labels, bench: "unmask", role: "-", kind: "bytes" },
    { nsPerChunk: ns, frames: 1, payloadLength: data.length },
  ));
}

async function timeWs(
  command: string,
  runArgs: string[],
  env: Record<string, string>,
): Promise<void> {
  const script = new URL("./ws_receiver.mjs", import.meta.url).pathname;
  const output = await new Deno.Command(command, {
    args: [...runArgs, script, ...args.filter((a) => a === "--quick")],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) {
    console.error(`${command} ${script} failed; its figures are missing`);
    return;
  }
  for (const line of new TextDecoder().decode(output.stdout).split("\n")) {
    if (line.trim() !== "") emit(JSON.parse(line));
  }
}

timeEngine();
if (!args.includes("--self")) {
  await timeWs("node", [], {});
  await timeWs("node", [], { WS_NO_BUFFER_UTIL: "1" });
  await timeWs(Deno.execPath(), ["run", "-A"], {});
}

if (!jsonOnly) {
  const impls = [...new Set(rows.map((r) => `${r.impl} (${r.runtime})`))];
  const keyOf = (r: Row): string => `${r.bench} ${r.role} ${r.kind} ${r.payload}`;
  const cases = [...new Set(rows.map(keyOf))];
  const cell = (r: Row | undefined): string => {
    if (!r) return "-";
    return r.bench === "unmask" || (r.role === "server" && Number(r.payload) >= 65535)
      ? `${r.payloadGBps} GB/s`
      : `${(Number(r.framesPerSec) / 1e6).toFixed(2)} M/s`;
  };
  const header = ["case", ...impls];
  const table = cases.map((c) => [
    c,
    ...impls.map((i) => cell(rows.find((r) => keyOf(r) === c && `${r.impl} (${r.runtime})` === i))),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(header));
  for (const row of table) console.log(line(row));
  console.log(
    "M/s: frames per second; GB/s: payload bytes unmasked per second (server, >= 64 KiB); medians of timed rounds",
  );
}
