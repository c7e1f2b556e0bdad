// Scripted client peer on the `ws` npm package, for Node >= 20 (also runs under
// Bun, where `import "ws"` resolves to Bun's own built-in `ws` replacement).
//
// Usage: node ws_client.mjs URL (--messages JSON | --messages-file PATH)
//                           [--protocols a,b] [--no-compression]
//                           [--close-code 1000] [--close-reason bye]
//                           [--max-size BYTES] [--timeout SECONDS]
//
// Messages: a JSON array of {"text": str} or {"binary": base64}. Sends them
// all, reads as many back, closes with --close-code/--close-reason, then prints
// `RESULT {"received", "protocol", "extensions", "closeCode", "closeReason"}`
// (protocol/extensions null when none; close code/reason as sent back by the
// server). On failure prints `ERROR <message>` and exits 1.
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import WebSocket from "ws";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    messages: { type: "string" },
    "messages-file": { type: "string" },
    protocols: { type: "string", default: "" },
    "no-compression": { type: "boolean", default: false },
    "close-code": { type: "string", default: "1000" },
    "close-reason": { type: "string", default: "bye" },
    "max-size": { type: "string", default: String(64 * 1024 * 1024) },
    timeout: { type: "string", default: "15" },
  },
});

// Exit only once stdout is flushed: a pipe write is asynchronous in Node, and
// process.exit() right after it truncates long lines (at 64 KiB).
function finish(line, code) {
  process.stdout.write(line, () => process.exit(code));
}

function fail(message) {
  finish(`ERROR ${message}\n`, 1);
}

const url = positionals[0];
if (url === undefined) fail("missing URL argument");
const messages = JSON.parse(
  values["messages-file"] !== undefined
    ? readFileSync(values["messages-file"], "utf8")
    : values.messages ?? "[]",
);
const protocols = values.protocols.split(",").filter((p) => p !== "");
setTimeout(() => fail(`timed out after ${values.timeout} s`), Number(values.timeout) * 1000)
  .unref();

const socket = new WebSocket(url, protocols, {
  perMessageDeflate: values["no-compression"] ? false : { threshold: 0 },
  maxPayload: Number(values["max-size"]),
});
let extensions = null;
socket.on("upgrade", (response) => {
  extensions = response.headers["sec-websocket-extensions"] ?? null;
});
const received = [];
socket.on("open", () => {
  for (const item of messages) {
    if ("text" in item) socket.send(item.text);
    else socket.send(Buffer.from(item.binary, "base64"), { binary: true });
  }
  if (messages.length === 0) socket.close(Number(values["close-code"]), values["close-reason"]);
});
socket.on("message", (data, isBinary) => {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  received.push(isBinary ? { binary: bytes.toString("base64") } : { text: bytes.toString("utf8") });
  if (received.length === messages.length) {
    socket.close(Number(values["close-code"]), values["close-reason"]);
  }
});
socket.on("close", (code, reason) => {
  finish(
    "RESULT " +
      JSON.stringify({
        received,
        protocol: socket.protocol || null,
        extensions,
        closeCode: code,
        closeReason: reason.toString(),
      }) + "\n",
    0,
  );
});
socket.on("error", (error) => fail(`${error.name}: ${error.message}`));
