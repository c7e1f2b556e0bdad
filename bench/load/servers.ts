/**
 * The servers under test: how to start each, what it is compared with, and
 * which bare TCP server gives its runtime's own per-socket cost.
 *
 * Every server script takes the port as its first argument (0: any) and
 * prints `LISTENING <port>` once bound; it echoes every message back.
 *
 * @module
 */

/** Where a command's executable comes from. */
export type Runtime = "node" | "deno" | "bun";

/**
 * What a server is, for the ratios. A `ceiling` is a bare TCP echo (no
 * WebSocket work): the most its runtime's socket API echoes in that cell;
 * only `--ceiling` (`deno task bench:ceiling`) runs them.
 */
export type ServerKind = "peer" | "native" | "codec" | "native-backed" | "bare" | "ceiling";

/** One server under test. */
export interface ServerSpec {
  /** Short unique name, used in tables and on the command line. */
  name: string;
  /** The runtime that runs it. */
  runtime: Runtime;
  /** Peer (ws), runtime-native, edgesocket codec-backed or native-backed, or bare TCP. */
  kind: ServerKind;
  /** Script under `bench/load/servers/` (or, for Node-run TypeScript, the bundle to build). */
  script: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Repository files that must exist (e.g. an adapter not yet written). */
  needs?: string[];
  /** Native-backed: the bare native server it wraps. */
  wraps?: string;
  /** The bare TCP server whose per-socket memory is this runtime's own cost. */
  bare?: string;
  /** Node cannot run TypeScript: bundle the script to JavaScript first. */
  bundle?: boolean;
  /** The bare TCP echo on the same runtime and socket API (the transport ceiling). */
  ceiling?: string;
  /** Runs only when named with `--servers`: a variant of a matrix server, not in the matrix. */
  optIn?: boolean;
}

/** The bare TCP echoes: each socket API a codec-backed server runs on, on each runtime. */
const BARE_ECHOES: { runtime: Runtime; api: "node:net" | "Deno.listen"; script: string }[] = [
  { runtime: "node", api: "node:net", script: "tcp_echo_node.mjs" },
  { runtime: "deno", api: "node:net", script: "tcp_echo_node.mjs" },
  { runtime: "bun", api: "node:net", script: "tcp_echo_node.mjs" },
  { runtime: "deno", api: "Deno.listen", script: "tcp_echo_deno.ts" },
];

/** How a bare echo's name says where it runs: `node:net@deno`, `Deno.listen`. */
function echoTarget(runtime: Runtime, api: "node:net" | "Deno.listen"): string {
  return api === "node:net" ? `node:net@${runtime}` : api;
}

/** The matrix's servers, in table order. */
export const SERVERS: ServerSpec[] = [
  {
    name: "ws",
    runtime: "node",
    kind: "peer",
    script: "ws_node.mjs",
    env: { WS_NO_BUFFER_UTIL: "1" },
    bare: "tcp node:net@node",
    ceiling: "tcp echo node:net@node",
  },
  {
    name: "ws+bufferutil",
    runtime: "node",
    kind: "peer",
    script: "ws_node.mjs",
    bare: "tcp node:net@node",
    ceiling: "tcp echo node:net@node",
  },
  {
    name: "deno native",
    runtime: "deno",
    kind: "native",
    script: "deno_native.ts",
    bare: "tcp Deno.listen",
  },
  {
    name: "bun native",
    runtime: "bun",
    kind: "native",
    script: "bun_native.mjs",
    bare: "tcp Bun.listen",
  },
  {
    name: "es Deno.listen",
    runtime: "deno",
    kind: "codec",
    script: "es_deno_listen.ts",
    bare: "tcp Deno.listen",
    ceiling: "tcp echo Deno.listen",
  },
  {
    name: "es node:http@deno",
    runtime: "deno",
    kind: "codec",
    script: "es_node_http.ts",
    needs: ["src/adapters/node.ts"],
    bare: "tcp node:net@deno",
    ceiling: "tcp echo node:net@deno",
  },
  {
    name: "es node:http@node",
    runtime: "node",
    kind: "codec",
    script: "es_node_http.ts",
    needs: ["src/adapters/node.ts"],
    bundle: true,
    bare: "tcp node:net@node",
    ceiling: "tcp echo node:net@node",
  },
  {
    name: "es node:http@bun",
    runtime: "bun",
    kind: "codec",
    script: "es_node_http.ts",
    needs: ["src/adapters/node.ts"],
    bare: "tcp node:net@bun",
    ceiling: "tcp echo node:net@bun",
  },
  {
    name: "es Deno.serve",
    runtime: "deno",
    kind: "native-backed",
    script: "es_deno_serve.ts",
    needs: ["src/adapters/deno.ts"],
    wraps: "deno native",
    bare: "tcp Deno.listen",
  },
  {
    name: "es Bun.serve",
    runtime: "bun",
    kind: "native-backed",
    script: "es_bun_serve.ts",
    needs: ["src/adapters/bun.ts"],
    wraps: "bun native",
    bare: "tcp Bun.listen",
  },
  ...BARE_ECHOES.map(({ runtime, api, script }): ServerSpec => ({
    name: `tcp echo ${echoTarget(runtime, api)}`,
    runtime,
    kind: "ceiling",
    script,
  })),
  // The same echoes holding each whole frame before writing it back.
  ...BARE_ECHOES.map(({ runtime, api, script }): ServerSpec => ({
    name: `tcp gather ${echoTarget(runtime, api)}`,
    runtime,
    kind: "ceiling",
    script,
    env: { ECHO_GATHER: "1" },
  })),
];

// Opt-in variants of each codec-backed server (its handler only sends the
// message on): `es … reuse` with `reuseMessageBuffers: true`, `es … transfer`
// sending with `transfer: true`, and `es … reuse+transfer` with both.
const VARIANTS: [string, Record<string, string>][] = [
  ["reuse", { ES_REUSE: "1" }],
  ["transfer", { ES_TRANSFER: "1" }],
  ["reuse+transfer", { ES_REUSE: "1", ES_TRANSFER: "1" }],
];
SERVERS.push(
  ...SERVERS.filter((spec) => spec.kind === "codec").flatMap((spec) =>
    VARIANTS.map(([variant, env]): ServerSpec => ({
      ...spec,
      name: `${spec.name} ${variant}`,
      env: { ...spec.env, ...env },
      optIn: true,
    }))
  ),
);

/** Bare TCP servers: accept and read, never answer (memory baseline only). */
export const BARE_SERVERS: ServerSpec[] = [
  { name: "tcp node:net@node", runtime: "node", kind: "bare", script: "tcp_node.mjs" },
  { name: "tcp node:net@deno", runtime: "deno", kind: "bare", script: "tcp_node.mjs" },
  { name: "tcp node:net@bun", runtime: "bun", kind: "bare", script: "tcp_node.mjs" },
  { name: "tcp Deno.listen", runtime: "deno", kind: "bare", script: "tcp_deno.ts" },
  { name: "tcp Bun.listen", runtime: "bun", kind: "bare", script: "tcp_bun.mjs" },
];

/** The runtime-native server a codec-backed server on `runtime` is compared with. */
export function nativeOf(runtime: Runtime): string | undefined {
  return runtime === "deno" ? "deno native" : runtime === "bun" ? "bun native" : undefined;
}
