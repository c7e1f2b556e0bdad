/**
 * Runs `run.ts` as a child for a few servers in a few cells and reads its
 * results back: what `recheck.ts` and `ab.ts` both do once per measurement.
 *
 * @module
 */

import type { Results } from "./report.ts";

const HERE = new URL(".", import.meta.url).pathname;

/** A line of progress on stderr (stdout carries the report). */
export function log(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
}

/** What to run. */
export interface CellsRun {
  /** Server names from `servers.ts`. */
  servers: string[];
  /** `SIZExCONNS` cells. */
  cells: string[];
  reps: string;
  duration: string;
  warmup: string;
  /** Another checkout whose servers run (`run.ts --tree`). */
  tree?: string;
  /** Show `run.ts`'s progress lines; otherwise only its errors, on failure. */
  progress?: boolean;
  /** Extra environment for `run.ts`, which passes it on to every server and the load generator. */
  env?: Record<string, string>;
}

/**
 * Runs the servers in the cells (no memory figure, nothing saved).
 *
 * @param run What to run.
 * @returns `run.ts`'s results.
 * @throws {Error} When `run.ts` fails, with the end of its stderr unless shown.
 */
export async function runCells(run: CellsRun): Promise<Results> {
  const json = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const args = [
      "run",
      "-A",
      `${HERE}run.ts`,
      "--servers",
      run.servers.join(","),
      "--cells",
      run.cells.join(","),
      "--reps",
      run.reps,
      "--duration",
      run.duration,
      "--warmup",
      run.warmup,
      "--no-memory",
      "--no-save",
      "--json",
      json,
      ...(run.tree ? ["--tree", run.tree] : []),
    ];
    const status = await new Deno.Command(Deno.execPath(), {
      args,
      env: run.env,
      stdout: "null",
      stderr: run.progress ? "inherit" : "piped",
    }).output();
    if (!status.success) {
      const stderr = run.progress ? "" : new TextDecoder().decode(status.stderr).slice(-2000);
      throw new Error(
        `run.ts failed for ${run.servers.join(", ")} (${run.tree ?? "this tree"}) ${stderr}`,
      );
    }
    return JSON.parse(await Deno.readTextFile(json));
  } finally {
    await Deno.remove(json).catch(() => {});
  }
}
