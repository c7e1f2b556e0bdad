/**
 * The Hono middleware: one app file (`_hono_app.ts`) run unchanged on Deno
 * (`Deno.serve`), Bun (`Bun.serve` + `websocket`) and Node
 * (`@hono/node-server` + `injectWebSocket`), each as a child process, hit
 * by real clients from Deno. Also: importing `@edgesocket/core` does not load
 * Hono.
 *
 * Run: `deno test -A tests/adapters/hono_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { BUN_CAPABILITIES } from "../../src/adapters/bun.ts";
import { DENO_NATIVE_CAPABILITIES } from "../../src/adapters/deno.ts";
import type { SocketCapabilities } from "../../src/socket.ts";
import { REPO_ROOT, requireTool, spawnPeer, type Tool } from "../_peers/mod.ts";
import { bundleForNode } from "./_build.ts";
import { type ContractServer, contractTests } from "./_bun_clients.ts";
import { adapterSuite } from "./_suite.ts";

const SERVER = "tests/adapters/_hono_server.ts";

type Runtime = "deno" | "bun" | "node";

const CODEC_CAPABILITIES: SocketCapabilities = {
  ping: true,
  backpressure: true,
  compression: true,
  anyCloseCode: true,
};

const RUNTIMES: Record<Runtime, { tools: Tool[]; capabilities: SocketCapabilities }> = {
  deno: { tools: [], capabilities: DENO_NATIVE_CAPABILITIES },
  bun: { tools: ["bun"], capabilities: BUN_CAPABILITIES },
  node: { tools: ["node"], capabilities: CODEC_CAPABILITIES },
};

async function startHono(runtime: Runtime): Promise<ContractServer> {
  let command: string;
  let args: string[];
  switch (runtime) {
    case "deno":
      command = Deno.execPath();
      args = ["run", "-A", SERVER];
      break;
    case "bun":
      command = requireTool("bun").path;
      args = ["run", SERVER];
      break;
    case "node":
      command = requireTool("node").path;
      args = [await bundleForNode(SERVER)];
      break;
  }
  const peer = await spawnPeer(command, { args, cwd: REPO_ROOT, name: `Hono on ${runtime}` });
  return {
    base: `ws://127.0.0.1:${peer.port}`,
    [Symbol.asyncDispose]: () => peer[Symbol.asyncDispose](),
  };
}

for (const runtime of ["deno", "bun", "node"] as const) {
  const { tools, capabilities } = RUNTIMES[runtime];
  adapterSuite({
    name: `Hono on ${runtime}`,
    tools,
    start: async () => {
      const server = await startHono(runtime);
      return { url: server.base, [Symbol.asyncDispose]: () => server[Symbol.asyncDispose]() };
    },
    // `/slow` holds the client back only on a codec-backed socket (Node).
    capabilities: { serverPing: capabilities.ping, backpressure: capabilities.backpressure },
  });
  contractTests(`Hono on ${runtime}`, () => startHono(runtime), { capabilities, tools });
}

Deno.test("mod.ts does not load Hono; ./hono does", async () => {
  const graph = async (specifier: string): Promise<string[]> => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", specifier],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      modules: { specifier: string }[];
    };
    return info.modules.map((module) => module.specifier);
  };
  const core = await graph("mod.ts");
  assert.ok(core.some((s) => s.endsWith("/mod.ts")));
  assert.deepEqual(core.filter((s) => /hono/i.test(s)), []);
  const hono = await graph("src/adapters/hono.ts");
  assert.ok(hono.some((s) => /node_modules\/hono\//.test(s)), hono.join("\n"));
});
