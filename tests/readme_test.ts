// The README stays true: its snippets are the example files, they run
// against each other, and its error table lists exactly the error codes.
import assert from "node:assert/strict";
import { CODEC_CAPABILITIES, type SocketCapabilities } from "../mod.ts";
import { BUN_CAPABILITIES } from "../src/adapters/bun.ts";
import { DENO_NATIVE_CAPABILITIES } from "../src/adapters/deno.ts";
import { runToCompletion } from "./_peers/mod.ts";

const root = new URL("../", import.meta.url);
const readme = await Deno.readTextFile(new URL("README.md", root));
const deno = Deno.execPath();

/** The fenced block that follows `<!-- path -->` in the README. */
function snippetAfter(marker: string): string {
  const at = readme.indexOf(`<!-- ${marker} -->`);
  assert.ok(at >= 0, `README has no <!-- ${marker} --> marker`);
  const match = /```ts[^\n]*\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(match, `No code block after ${marker}`);
  return match[1];
}

Deno.test("README: the server and client snippets are the example files", async () => {
  for (const file of ["examples/readme/server.ts", "examples/readme/client.ts"]) {
    assert.equal(snippetAfter(file), await Deno.readTextFile(new URL(file, root)));
  }
});

Deno.test({
  name: "README: the client snippet talks to the server snippet",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Deno.serve announces itself on stderr; wait for the port instead.
    const server = new Deno.Command(deno, {
      args: ["run", "-A", "examples/readme/server.ts"],
      cwd: root.pathname,
      stdout: "null",
      stderr: "null",
    }).spawn();
    await using _ = {
      async [Symbol.asyncDispose]() {
        server.kill();
        await server.status;
      },
    };
    await waitForPort(8080);
    const client = await runToCompletion(deno, {
      args: ["run", "-A", "examples/readme/client.ts"],
      cwd: root.pathname,
    });
    assert.equal(client.code, 0, client.stderr);
    // Server preference picks "chat"; the echo comes back; ping gives a number.
    assert.match(client.stdout.trim(), /^chat echo: hello rtt \d+(\.\d+)?$/);
  },
});

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`Nothing listens on port ${port}`);
}

Deno.test("README: the error table lists exactly the documented error codes", async () => {
  const source = await Deno.readTextFile(new URL("src/errors.ts", root));
  const union = source.slice(source.indexOf("export type WebSocketErrorCode"));
  const codes = new Set(
    [...union.slice(0, union.indexOf(";")).matchAll(/"(WS_ERR_[A-Z0-9_]+)"/g)].map((m) => m[1]),
  );
  const section = readme.slice(readme.indexOf("## Errors"));
  const table = new Set(
    [...section.slice(0, section.indexOf("\n## ")).matchAll(/^\| `(WS_ERR_[A-Z0-9_]+)`/gm)]
      .map((m) => m[1]),
  );
  assert.deepEqual([...table].sort(), [...codes].sort());
});

Deno.test("README: the capability table matches each adapter's capabilities", () => {
  const expected: Record<string, SocketCapabilities> = {
    "node:http (Node, Deno, Bun)": CODEC_CAPABILITIES,
    "Deno.listen / Deno.listenTls": CODEC_CAPABILITIES,
    "client": CODEC_CAPABILITIES,
    "any byte duplex": CODEC_CAPABILITIES,
    "Deno.serve": DENO_NATIVE_CAPABILITIES,
    "Bun.serve": BUN_CAPABILITIES,
  };
  const section = readme.slice(readme.indexOf("<!-- capability-table -->"));
  const rows = section.slice(0, section.indexOf("\n\n", section.indexOf("| ---"))).split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| ---"));
  const header = rows[0].split("|").map((cell) => cell.trim());
  const seen: string[] = [];
  for (const row of rows.slice(1)) {
    const cells = row.split("|").map((cell) => cell.trim());
    const name = cells[1];
    if (name === "Hono") continue; // "as that row": Hono inherits the runtime's row
    seen.push(name);
    const capabilities = expected[name];
    assert.ok(capabilities, `Unexpected README row: ${name}`);
    for (const key of ["ping", "backpressure", "compression", "anyCloseCode"] as const) {
      const cell = cells[header.indexOf(key)];
      assert.equal(cell, capabilities[key] ? "yes" : "no", `${name}: ${key}`);
    }
  }
  assert.deepEqual(seen.sort(), Object.keys(expected).sort());
});
