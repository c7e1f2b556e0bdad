import assert from "node:assert/strict";
import {
  readRequestHead,
  readResponseHead,
  requestFromHead,
  writeRequestHead,
  writeResponseHead,
} from "../src/http_head.ts";
import { WebSocketError } from "../src/errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function streamOf(chunks: Uint8Array[]): ReadableStreamDefaultReader<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  }).getReader();
}

/** The input as one chunk, then split in two at every byte offset. */
function* splits(bytes: Uint8Array): Generator<Uint8Array[]> {
  yield [bytes];
  for (let i = 1; i < bytes.length; i++) yield [bytes.slice(0, i), bytes.slice(i)];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Reads all `rest` plus whatever the reader still holds. */
async function drain(
  rest: Uint8Array,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<Uint8Array> {
  const parts = [rest];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return concat(parts);
    parts.push(value);
  }
}

async function assertRejects(
  promise: Promise<unknown>,
  code: string,
  status: number,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof WebSocketError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    return true;
  });
}

const REQUEST = "GET /chat?room=1 HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version:13\r\n" +
  "X-Multi: a\r\n" +
  "X-Multi: b\r\n" +
  "X-Spaced: \t padded value \t\r\n" +
  "\r\n";
// RFC 6455 §5.7: a masked "Hello" frame right after the head.
const FRAME = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];

Deno.test("readRequestHead: parses a request head at every split, returning the rest", async () => {
  const bytes = concat([encoder.encode(REQUEST), Uint8Array.from(FRAME)]);
  for (const chunks of splits(bytes)) {
    const reader = streamOf(chunks);
    const { head, rest } = await readRequestHead(reader);
    assert.equal(head.method, "GET");
    assert.equal(head.target, "/chat?room=1");
    assert.equal(head.version, "HTTP/1.1");
    assert.equal(head.headers.get("host"), "server.example.com");
    assert.equal(head.headers.get("sec-websocket-version"), "13");
    assert.equal(head.headers.get("x-multi"), "a, b");
    assert.equal(head.headers.get("x-spaced"), "padded value");
    assert.deepEqual([...await drain(rest, reader)], FRAME);
  }
});

Deno.test("readRequestHead: reads no chunk past the one ending the head", async () => {
  const tail = Uint8Array.from(FRAME);
  const chunks = [encoder.encode(REQUEST.slice(0, 10)), encoder.encode(REQUEST.slice(10)), tail];
  let pulls = 0;
  const reader = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls < chunks.length) controller.enqueue(chunks[pulls++]);
      else controller.close();
    },
  }, { highWaterMark: 0 }).getReader();
  const { rest } = await readRequestHead(reader);
  assert.equal(rest.length, 0);
  assert.equal(pulls, 2);
  assert.deepEqual((await reader.read()).value, tail);
});

Deno.test("readRequestHead: byte-at-a-time input", async () => {
  const bytes = encoder.encode(REQUEST);
  const reader = streamOf([...bytes].map((b) => Uint8Array.of(b)));
  const { head, rest } = await readRequestHead(reader);
  assert.equal(head.headers.get("upgrade"), "websocket");
  assert.equal(rest.length, 0);
});

Deno.test("readRequestHead: keeps obs-text in values as Latin-1", async () => {
  const bytes = latin1Bytes("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9\r\n\r\n");
  const { head } = await readRequestHead(streamOf([bytes]));
  assert.equal(head.headers.get("x-name"), "caf\xe9");
});

const BAD_REQUESTS: [string, string, number][] = [
  ["bare LF line ending", "GET / HTTP/1.1\nHost: a\n\n", 400],
  ["bare LF in a field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400],
  ["bare CR", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400],
  ["leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", 505],
  ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
  ["malformed version", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400],
  ["lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400],
  ["missing target", "GET HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["invalid method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["whitespace before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400],
  ["tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400],
  ["obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400],
  ["obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400],
  ["no colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400],
  ["empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400],
  ["non-token field name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", 400],
  ["NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\x00c\r\n\r\n", 400],
  ["DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\x7fc\r\n\r\n", 400],
  ["vertical tab in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\x0bc\r\n\r\n", 400],
  ["duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400],
];

for (const [name, text, status] of BAD_REQUESTS) {
  Deno.test(`readRequestHead: rejects ${name} with ${status}`, async () => {
    for (const chunks of splits(latin1Bytes(text))) {
      await assertRejects(readRequestHead(streamOf(chunks)), "WS_ERR_INVALID_HANDSHAKE", status);
    }
  });
}

Deno.test("readRequestHead: rejects an early end of stream with 400", async () => {
  const bytes = encoder.encode(REQUEST);
  for (let i = 0; i < bytes.length; i++) {
    const chunks = i === 0 ? [] : [bytes.slice(0, i)];
    await assertRejects(readRequestHead(streamOf(chunks)), "WS_ERR_INVALID_HANDSHAKE", 400);
  }
});

Deno.test("readRequestHead: enforces maxHeaderBytes with 431", async () => {
  const bytes = encoder.encode(REQUEST);
  // Exactly at the limit is accepted, one byte less is not, at every split.
  for (const chunks of splits(bytes)) {
    const { head } = await readRequestHead(streamOf(chunks), { maxHeaderBytes: bytes.length });
    assert.equal(head.method, "GET");
  }
  for (const chunks of splits(bytes)) {
    await assertRejects(
      readRequestHead(streamOf(chunks), { maxHeaderBytes: bytes.length - 1 }),
      "WS_ERR_HEADERS_TOO_LARGE",
      431,
    );
  }
  // The default is 16 KiB, and an endless head fails without waiting for EOF.
  const filler = encoder.encode("X-Filler: " + "a".repeat(1000) + "\r\n");
  let sent = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(sent++ === 0 ? encoder.encode("GET / HTTP/1.1\r\n") : filler);
    },
  });
  await assertRejects(readRequestHead(endless.getReader()), "WS_ERR_HEADERS_TOO_LARGE", 431);
  assert.ok(sent <= 20, `read ${sent} chunks`);
});

Deno.test("readRequestHead: rejects an invalid maxHeaderBytes", async () => {
  await assert.rejects(readRequestHead(streamOf([]), { maxHeaderBytes: 0 }), RangeError);
});

const RESPONSE = "HTTP/1.1 101 Switching Protocols\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
  "\r\n";

Deno.test("readResponseHead: parses a response head at every split", async () => {
  const bytes = concat([encoder.encode(RESPONSE), Uint8Array.from(FRAME)]);
  for (const chunks of splits(bytes)) {
    const reader = streamOf(chunks);
    const { head, rest } = await readResponseHead(reader);
    assert.equal(head.version, "HTTP/1.1");
    assert.equal(head.status, 101);
    assert.equal(head.statusText, "Switching Protocols");
    assert.equal(head.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert.deepEqual([...await drain(rest, reader)], FRAME);
  }
});

Deno.test("readResponseHead: accepts an empty or missing reason phrase", async () => {
  for (const line of ["HTTP/1.1 101 ", "HTTP/1.1 101"]) {
    const { head } = await readResponseHead(streamOf([encoder.encode(`${line}\r\nA: b\r\n\r\n`)]));
    assert.equal(head.status, 101);
    assert.equal(head.statusText, "");
  }
});

const BAD_RESPONSES: [string, string, number][] = [
  ["HTTP/1.0", "HTTP/1.0 101 Switching Protocols\r\n\r\n", 505],
  ["two-digit status", "HTTP/1.1 10 Switching\r\n\r\n", 400],
  ["non-numeric status", "HTTP/1.1 1x1 Switching\r\n\r\n", 400],
  ["control character in reason", "HTTP/1.1 101 Swi\x01tching\r\n\r\n", 400],
  ["bare LF", "HTTP/1.1 101 Switching Protocols\n\n", 400],
  ["obs-fold", "HTTP/1.1 101 OK\r\nUpgrade: a\r\n b\r\n\r\n", 400],
  ["whitespace before colon", "HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n", 400],
];

for (const [name, text, status] of BAD_RESPONSES) {
  Deno.test(`readResponseHead: rejects ${name} with ${status}`, async () => {
    for (const chunks of splits(latin1Bytes(text))) {
      await assertRejects(readResponseHead(streamOf(chunks)), "WS_ERR_INVALID_HANDSHAKE", status);
    }
  });
}

Deno.test("readResponseHead: rejects an early end of stream and an oversized head", async () => {
  const bytes = encoder.encode(RESPONSE);
  await assertRejects(
    readResponseHead(streamOf([bytes.slice(0, -1)])),
    "WS_ERR_INVALID_HANDSHAKE",
    400,
  );
  await assertRejects(
    readResponseHead(streamOf([bytes]), { maxHeaderBytes: 20 }),
    "WS_ERR_HEADERS_TOO_LARGE",
    431,
  );
});

Deno.test("writeResponseHead: serialises a 101 without body framing", () => {
  const bytes = writeResponseHead({
    status: 101,
    headers: new Headers({
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    }),
  });
  assert.equal(
    decoder.decode(bytes),
    "HTTP/1.1 101 Switching Protocols\r\n" +
      "Connection: Upgrade\r\n" +
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
      "Upgrade: websocket\r\n" +
      "\r\n",
  );
});

Deno.test("writeResponseHead: a rejection carries Content-Length, Connection: close and the body", async () => {
  const bytes = writeResponseHead({
    status: 426,
    headers: new Headers({ "Sec-WebSocket-Version": "13", Connection: "Upgrade" }),
    body: "Unsupported WebSocket version ✓",
  });
  const { head, rest } = await readResponseHead(streamOf([bytes]));
  assert.equal(head.status, 426);
  assert.equal(head.statusText, "Upgrade Required");
  assert.equal(head.headers.get("connection"), "close");
  assert.equal(head.headers.get("sec-websocket-version"), "13");
  assert.equal(Number(head.headers.get("content-length")), rest.length);
  assert.equal(decoder.decode(rest), "Unsupported WebSocket version ✓");

  const empty = decoder.decode(
    writeResponseHead({ status: 403, statusText: "No", headers: new Headers() }),
  );
  assert.equal(empty, "HTTP/1.1 403 No\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
});

Deno.test("writeResponseHead: keeps each Set-Cookie on its own line", () => {
  const headers = new Headers();
  headers.append("Set-Cookie", "a=1");
  headers.append("Set-Cookie", "b=2");
  const text = decoder.decode(writeResponseHead({ status: 101, headers }));
  assert.ok(text.includes("Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n"), text);
});

Deno.test("writeResponseHead: rejects invalid input with TypeError", () => {
  assert.throws(() => writeResponseHead({ status: 99, headers: new Headers() }), TypeError);
  assert.throws(() => writeResponseHead({ status: 200.5, headers: new Headers() }), TypeError);
  assert.throws(
    () => writeResponseHead({ status: 400, statusText: "Bad\r\nX: y", headers: new Headers() }),
    TypeError,
  );
  assert.throws(
    () => writeResponseHead({ status: 101, headers: new Headers(), body: "no" }),
    TypeError,
  );
});

Deno.test("writeRequestHead: serialises and round-trips through readRequestHead", async () => {
  const bytes = writeRequestHead({
    method: "GET",
    target: "/chat?room=1",
    headers: new Headers({ Host: "example.com", "Sec-WebSocket-Version": "13" }),
  });
  assert.equal(
    decoder.decode(bytes),
    "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const { head } = await readRequestHead(streamOf([bytes]));
  assert.equal(head.target, "/chat?room=1");
  assert.throws(
    () => writeRequestHead({ method: "G T", target: "/", headers: new Headers() }),
    TypeError,
  );
  assert.throws(
    () => writeRequestHead({ method: "GET", target: "/a b", headers: new Headers() }),
    TypeError,
  );
  assert.throws(
    () => writeRequestHead({ method: "GET", target: "", headers: new Headers() }),
    TypeError,
  );
});

Deno.test("requestFromHead: builds the URL from Host and the target", () => {
  const head = {
    method: "GET",
    target: "/chat?room=1",
    version: "HTTP/1.1",
    headers: new Headers({ Host: "Example.com:8080" }),
  };
  assert.equal(requestFromHead(head).url, "http://example.com:8080/chat?room=1");
  assert.equal(
    requestFromHead(head, { scheme: "https" }).url,
    "https://example.com:8080/chat?room=1",
  );
  const absolute = { ...head, target: "http://other.example/x" };
  assert.equal(requestFromHead(absolute).url, "http://other.example/x");
  const request = requestFromHead(head);
  assert.equal(request.method, "GET");
  assert.equal(request.headers, head.headers);
});

Deno.test("requestFromHead: rejects a missing or invalid Host and odd targets with 400", () => {
  const cases: [string, Record<string, string>][] = [
    ["/", {}],
    ["/", { Host: "" }],
    ["/", { Host: "a/b" }],
    ["/", { Host: "user@a" }],
    ["/", { Host: "a:port" }],
    ["*", { Host: "a" }],
    ["a:443", { Host: "a" }],
    ["ftp://a/", { Host: "a" }],
  ];
  for (const [target, headers] of cases) {
    const head = { method: "GET", target, version: "HTTP/1.1", headers: new Headers(headers) };
    assert.throws(() => requestFromHead(head), (error: unknown) => {
      assert.ok(error instanceof WebSocketError);
      assert.equal(error.code, "WS_ERR_INVALID_HANDSHAKE");
      assert.equal(error.status, 400);
      return true;
    }, `${target} ${JSON.stringify(headers)}`);
  }
});
