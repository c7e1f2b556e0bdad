/**
 * The node:http adapter on Node, Bun and Deno: the shared suite against the
 * same server script on each runtime, the lifecycle timers, interop with
 * real peers, and the `connect()` client against real servers.
 *
 * @module
 */

import { spawnPeer } from "../_peers/process.ts";
import { REPO_ROOT, requireTool, type Tool } from "../_peers/tools.ts";
import { bundleForNode } from "./_build.ts";
import { adapterSuite, type RunningServer } from "./_suite.ts";

/** A runtime the node:http adapter runs on. */
export type Runtime = "node" | "bun" | "deno";

const SERVER = "tests/adapters/_node_server.ts";

/** The tools a runtime needs. */
export function toolsOf(runtime: Runtime): Tool[] {
  return runtime === "deno" ? [] : [runtime];
}

/**
 * Starts the node:http adapter's server script on a runtime.
 *
 * @param runtime Node (from a bundle), Bun or Deno.
 * @returns The server; dispose to stop it.
 */
export async function startNodeAdapterServer(runtime: Runtime): Promise<RunningServer> {
  let command: string;
  let args: string[];
  switch (runtime) {
    case "node":
      command = requireTool("node").path;
      args = [await bundleForNode(SERVER)];
      break;
    case "bun":
      command = requireTool("bun").path;
      args = [SERVER];
      break;
    case "deno":
      command = Deno.execPath();
      args = ["run", "-A", SERVER];
      break;
  }
  const peer = await spawnPeer(command, { args, cwd: REPO_ROOT, name: `node:http on ${runtime}` });
  return {
    url: `ws://127.0.0.1:${peer.port}`,
    [Symbol.asyncDispose]: () => peer[Symbol.asyncDispose](),
  };
}

for (const runtime of ["node", "bun", "deno"] as const) {
  adapterSuite({
    name: `node:http on ${runtime}`,
    tools: toolsOf(runtime),
    start: () => startNodeAdapterServer(runtime),
    capabilities: { serverPing: true, backpressure: true },
  });
}
