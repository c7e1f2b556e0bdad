/**
 * Scripted client peer on the runtime's global `WebSocket`; runs under Deno
 * and Bun.
 *
 * Usage: `deno run -A native_client.ts URL (--messages JSON | --messages-file
 * PATH) [--protocols a,b] [--no-compression] [--close-code 1000]
 * [--close-reason bye] [--timeout SECONDS]` (or `bun native_client.ts ...`).
 *
 * Messages: a JSON array of `{"text": string}` or `{"binary": base64}`. Sends
 * them all, reads as many back, closes with the given code and reason, then
 * prints `RESULT {"received", "protocol", "extensions", "closeCode",
 * "closeReason"}` (protocol/extensions null when none; close code/reason as
 * sent back by the server). On failure prints `ERROR <message>` and exits 1.
 * The standard `WebSocket` API cannot choose compression: `--no-compression`
 * is accepted and ignored (Deno's client offers no permessage-deflate; Bun's
 * offers it).
 *
 * @module
 */

type WireMessage = { text: string } | { binary: string };

interface Host {
  args: string[];
  readText(path: string): Promise<string>;
  /** Writes all of `line` to stdout, then exits. */
  finish(line: string, code: number): Promise<never>;
}

function host(): Host {
  const g = globalThis as unknown as {
    Deno?: typeof Deno;
    Bun?: {
      argv: string[];
      file(path: string): { text(): Promise<string> };
      stdout: unknown;
      write(destination: unknown, data: string): Promise<number>;
    };
    process?: { exit(code: number): never };
  };
  if (g.Deno !== undefined) {
    const deno = g.Deno;
    return {
      args: deno.args,
      readText: (path) => deno.readTextFile(path),
      finish: async (line, code) => {
        // writeSync on a pipe may write only part of a long line: loop.
        const bytes = new TextEncoder().encode(line);
        for (let offset = 0; offset < bytes.length;) {
          offset += await deno.stdout.write(bytes.subarray(offset));
        }
        return deno.exit(code);
      },
    };
  }
  if (g.Bun !== undefined && g.process !== undefined) {
    const bun = g.Bun;
    const process = g.process;
    return {
      args: bun.argv.slice(2),
      readText: (path) => bun.file(path).text(),
      finish: async (line, code) => {
        await bun.write(bun.stdout, line);
        return process.exit(code);
      },
    };
  }
  throw new Error("Unsupported runtime: need Deno or Bun");
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const rt = host();
const args = rt.args;
const flag = (name: string, fallback: string): string => {
  const index = args.indexOf(`--${name}`);
  return index === -1 ? fallback : args[index + 1] ?? fallback;
};
let finishing: Promise<never> | null = null;
/** Reports once: an error event is followed by a close event, only the first counts. */
const finish = (line: string, code: number): Promise<never> => finishing ??= rt.finish(line, code);
const fail = (message: string): Promise<never> => finish(`ERROR ${message}\n`, 1);

const url = args[0];
if (url === undefined || url.startsWith("--")) await fail("missing URL argument");
const messagesFile = flag("messages-file", "");
const messages: WireMessage[] = JSON.parse(
  messagesFile !== "" ? await rt.readText(messagesFile) : flag("messages", "[]"),
);
const protocols = flag("protocols", "").split(",").filter((p) => p !== "");
const closeCode = Number(flag("close-code", "1000"));
const closeReason = flag("close-reason", "bye");
setTimeout(
  () => fail(`timed out after ${flag("timeout", "15")} s`),
  Number(flag("timeout", "15")) * 1000,
);

const socket = new WebSocket(url, protocols);
socket.binaryType = "arraybuffer";
const received: WireMessage[] = [];
socket.onopen = () => {
  for (const item of messages) {
    socket.send("text" in item ? item.text : fromBase64(item.binary));
  }
  if (messages.length === 0) socket.close(closeCode, closeReason);
};
socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
  received.push(
    typeof event.data === "string"
      ? { text: event.data }
      : { binary: toBase64(new Uint8Array(event.data)) },
  );
  if (received.length === messages.length) socket.close(closeCode, closeReason);
};
socket.onerror = (event) => {
  fail(`WebSocket error: ${(event as ErrorEvent).message ?? "unknown"}`);
};
socket.onclose = (event) => {
  finish(
    "RESULT " + JSON.stringify({
      received,
      protocol: socket.protocol || null,
      extensions: socket.extensions || null,
      closeCode: event.code,
      closeReason: event.reason,
    }) + "\n",
    0,
  );
};
