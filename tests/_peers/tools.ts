/**
 * Detection of the external tools that interop tests run as peers, and a
 * `Deno.test` wrapper that skips loudly when one is missing — or fails, when
 * `EDGESOCKET_CI=1` says every test must run.
 *
 * Each tool can be pointed elsewhere with an environment variable:
 * `EDGESOCKET_CHROMIUM`, `EDGESOCKET_PYTHON`, `EDGESOCKET_BUN`,
 * `EDGESOCKET_NODE`.
 *
 * @module
 */

/** The external programs a peer test may need. */
export type Tool = "chromium" | "python" | "bun" | "node";

/** What detection found out about one tool. */
export interface ToolInfo {
  /** The tool's name. */
  readonly name: Tool;
  /** Whether the tool can be used. */
  readonly available: boolean;
  /** The executable to spawn. */
  readonly path: string;
  /** Version string (for Python: the `websockets` package version), if found. */
  readonly version: string | null;
  /** Why the tool is unavailable; empty when available. */
  readonly reason: string;
  /** How to install the tool. */
  readonly install: string;
}

/** The repository root, as a file path without a trailing slash. */
export const REPO_ROOT: string = decodeURIComponent(
  new URL("../../", import.meta.url).pathname,
).replace(/\/$/, "");

/** The directory holding the peer scripts. */
export const PEERS_DIR: string = `${REPO_ROOT}/tests/_peers`;

const INSTALL: Record<Tool, string> = {
  chromium:
    "apt-get install chromium (Debian; /usr/bin/chromium) and npm install playwright-core, or set EDGESOCKET_CHROMIUM",
  python:
    "apt-get install python3-websockets (system /usr/bin/python3), or set EDGESOCKET_PYTHON to a python with websockets",
  bun: "npm install (the bun devDependency provides node_modules/.bin/bun), or set EDGESOCKET_BUN",
  node: "install Node.js >= 20 and run npm install (ws), or set EDGESOCKET_NODE",
};

const cache = new Map<Tool, ToolInfo>();

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function probe(path: string, args: string[]): { ok: boolean; out: string; err: string } {
  try {
    const out = new Deno.Command(path, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .outputSync();
    return {
      ok: out.success,
      out: new TextDecoder().decode(out.stdout).trim(),
      err: new TextDecoder().decode(out.stderr).trim(),
    };
  } catch (error) {
    return { ok: false, out: "", err: error instanceof Error ? error.message : String(error) };
  }
}

function detect(name: Tool): ToolInfo {
  const install = INSTALL[name];
  const found = (path: string, version: string | null): ToolInfo => ({
    name,
    available: true,
    path,
    version,
    reason: "",
    install,
  });
  const missing = (path: string, reason: string): ToolInfo => ({
    name,
    available: false,
    path,
    version: null,
    reason,
    install,
  });
  switch (name) {
    case "chromium": {
      const path = env("EDGESOCKET_CHROMIUM") ?? "/usr/bin/chromium";
      if (!exists(path)) return missing(path, `${path} not found`);
      if (!exists(`${REPO_ROOT}/node_modules/playwright-core/package.json`)) {
        return missing(path, "node_modules/playwright-core not installed");
      }
      const r = probe(path, ["--version"]);
      if (!r.ok) return missing(path, `${path} --version failed: ${r.err}`);
      return found(path, r.out.match(/[\d.]+/)?.[0] ?? r.out);
    }
    case "python": {
      const path = env("EDGESOCKET_PYTHON") ?? "/usr/bin/python3";
      const r = probe(path, ["-c", "import websockets; print(websockets.__version__)"]);
      if (!r.ok) {
        return missing(path, `${path} cannot import websockets: ${r.err.split("\n").at(-1)}`);
      }
      return found(path, r.out);
    }
    case "bun": {
      const local = `${REPO_ROOT}/node_modules/.bin/bun`;
      const path = env("EDGESOCKET_BUN") ?? (exists(local) ? local : "bun");
      const r = probe(path, ["--version"]);
      if (!r.ok) return missing(path, `${path} --version failed: ${r.err}`);
      return found(path, r.out);
    }
    case "node": {
      const path = env("EDGESOCKET_NODE") ?? "node";
      if (!exists(`${REPO_ROOT}/node_modules/ws/package.json`)) {
        return missing(path, "node_modules/ws not installed");
      }
      const r = probe(path, ["--version"]);
      if (!r.ok) return missing(path, `${path} --version failed: ${r.err}`);
      return found(path, r.out.replace(/^v/, ""));
    }
  }
}

/**
 * Detects a tool once and caches the answer.
 *
 * @param name The tool to look for.
 * @returns What was found, available or not.
 */
export function toolInfo(name: Tool): ToolInfo {
  let info = cache.get(name);
  if (info === undefined) {
    info = detect(name);
    cache.set(name, info);
  }
  return info;
}

/**
 * Whether missing tools fail tests instead of skipping them
 * (`EDGESOCKET_CI=1`).
 *
 * @returns `true` in CI mode.
 */
export function isCi(): boolean {
  return env("EDGESOCKET_CI") === "1";
}

/**
 * Returns a tool that must be present, for use inside a test body.
 *
 * @param name The tool needed.
 * @returns The tool's details.
 * @throws {Error} If the tool is missing: the message says how to install it.
 */
export function requireTool(name: Tool): ToolInfo {
  const info = toolInfo(name);
  if (!info.available) {
    throw new Error(`Missing tool ${name}: ${info.reason}; install: ${info.install}`);
  }
  return info;
}

/**
 * Decides at registration time whether a test must be ignored for lack of
 * tools, printing a `SKIPPED:` line to stderr for each missing one. In CI
 * mode nothing is ignored, so the test runs and fails in {@linkcode requireTool}.
 *
 * @param testName The test's name, for the message.
 * @param tools The tools the test needs.
 * @returns The value for `Deno.test`'s `ignore` option.
 */
export function shouldSkip(testName: string, tools: readonly Tool[]): boolean {
  const missing = tools.map(toolInfo).filter((info) => !info.available);
  if (missing.length === 0 || isCi()) return false;
  for (const info of missing) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `SKIPPED: ${testName} needs ${info.name} (${info.reason}): ${info.install}\n`,
      ),
    );
  }
  return true;
}

/** Options for {@linkcode peerTest}. */
export interface PeerTestOptions {
  /** Check for leaked async ops (default `true`; browser tests need `false`). */
  sanitizeOps?: boolean;
  /** Check for leaked resources (default `true`; browser tests need `false`). */
  sanitizeResources?: boolean;
  /** Run only this test (as `Deno.test`'s `only`). */
  only?: boolean;
}

/**
 * Registers a `Deno.test` that needs external tools: skipped loudly when one
 * is missing, failing instead when `EDGESOCKET_CI=1`.
 *
 * @param name The test name.
 * @param tools The tools the test needs.
 * @param fn The test body.
 * @param options Sanitizer settings.
 *
 * @example Usage
 * ```ts ignore
 * peerTest("python client talks to us", ["python"], async () => {
 *   // ...
 * });
 * ```
 */
export function peerTest(
  name: string,
  tools: readonly Tool[],
  fn: () => Promise<void>,
  options: PeerTestOptions = {},
): void {
  Deno.test({
    name,
    ignore: shouldSkip(name, tools),
    only: options.only ?? false,
    sanitizeOps: options.sanitizeOps ?? true,
    sanitizeResources: options.sanitizeResources ?? true,
    async fn(): Promise<void> {
      for (const tool of tools) requireTool(tool);
      await fn();
    },
  });
}
