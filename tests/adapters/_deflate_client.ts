/**
 * Our `connect()` client (node adapter, `node:net` dialer) with
 * `perMessageDeflate: true`, run unchanged under Node (from the bundle
 * `_build.ts` emits), Bun and Deno by `tests/deflate_runtimes_test.ts`.
 *
 * Usage: `<runtime> _deflate_client <ws-url> <messages.json>`, the file a
 * JSON array of strings. Sends each one, waits for its echo, compares it
 * with what was sent, closes with 1000, then prints one line
 * `RESULT {"extensions", "echoes": [{"length", "equal"}], "closeCode"}`.
 * On failure prints `ERROR <message>` and exits 1.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import process from "node:process";
import { setTimeout } from "node:timers";
import { connect } from "../../src/adapters/node.ts";
import type { EdgeSocket, Message } from "../../src/socket.ts";

async function next(socket: EdgeSocket): Promise<Message> {
  for await (const message of socket) return message;
  throw new Error("Socket closed before the echo arrived");
}

function finish(line: string, code: number): void {
  // Exit once stdout is flushed: a pipe write is asynchronous on Node.
  process.stdout.write(line, () => process.exit(code));
}

async function main(): Promise<void> {
  const [url, file] = process.argv.slice(2);
  if (url === undefined || file === undefined) throw new Error("Usage: <ws-url> <messages.json>");
  const messages = JSON.parse(readFileSync(file, "utf8")) as string[];
  const socket = connect(url, { perMessageDeflate: true });
  const { extensions } = await socket.opened;
  const echoes: { length: number; equal: boolean }[] = [];
  for (const message of messages) {
    await socket.send(message);
    const echo = await next(socket);
    echoes.push({
      length: typeof echo === "string" ? echo.length : -1,
      equal: echo === message,
    });
  }
  socket.close(1000, "bye");
  const { closeCode } = await socket.closed;
  finish(`RESULT ${JSON.stringify({ extensions, echoes, closeCode })}\n`, 0);
}

setTimeout(() => finish("ERROR Timed out after 20 s\n", 1), 20_000).unref();
main().catch((error) => finish(`ERROR ${error instanceof Error ? error.stack : error}\n`, 1));
