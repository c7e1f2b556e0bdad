/**
 * A small, strict HTTP/1.1 head reader and writer for the opening handshake
 * over raw byte streams (`Deno.listen`, `node:net`, TLS sockets). It reads
 * exactly one request or response head — the upgrade exchange — and hands
 * back whatever bytes followed it for the frame parser. Nothing else of HTTP
 * is implemented.
 *
 * @module
 */

import { WebSocketError } from "./errors.ts";
import { isToken, STATUS_TEXT } from "./_http_head.ts";
import type { UpgradeRequest } from "./handshake.ts";

/** A parsed HTTP/1.1 request head. */
export interface RequestHead {
  /** The request method, e.g. `GET` (case-sensitive, RFC 9110 §9.1). */
  method: string;
  /** The request-target as sent, e.g. `/chat?room=1`. */
  target: string;
  /** The HTTP version, always `HTTP/1.1`. */
  version: string;
  /** The header fields; repeated fields are joined with `", "`. */
  headers: Headers;
}

/** A parsed HTTP/1.1 response head. */
export interface ResponseHead {
  /** The HTTP version, always `HTTP/1.1`. */
  version: string;
  /** The three-digit status code. */
  status: number;
  /** The reason phrase, possibly empty. */
  statusText: string;
  /** The header fields; repeated fields are joined with `", "`. */
  headers: Headers;
}

/** The result of reading a head: the head itself and the bytes that followed it. */
export interface HeadReadResult<T> {
  /** The parsed head. */
  head: T;
  /**
   * The bytes received after the terminating empty line (a view into the
   * last chunk read, possibly empty), to hand to the frame parser.
   */
  rest: Uint8Array;
}

/** Options for {@linkcode readRequestHead} and {@linkcode readResponseHead}. */
export interface ReadHeadOptions {
  /**
   * The largest head accepted, in bytes, counting the start line, the header
   * fields and the terminating empty line. Defaults to 16 KiB.
   */
  maxHeaderBytes?: number;
}

/** What {@linkcode writeResponseHead} serialises. */
export interface ResponseHeadInit {
  /** The status code, 100–999. */
  status: number;
  /** The reason phrase; defaults to the standard phrase for `status`. */
  statusText?: string;
  /** The header fields. */
  headers: Headers;
  /** A body for rejections, sent as UTF-8 after the head. */
  body?: string;
}

/** What {@linkcode writeRequestHead} serialises. */
export interface RequestHeadInit {
  /** The request method, e.g. `GET`. */
  method: string;
  /** The request-target, e.g. `/chat?room=1`. */
  target: string;
  /** The header fields. */
  headers: Headers;
}

/** Options for {@linkcode requestFromHead}. */
export interface RequestFromHeadOptions {
  /** The scheme of the connection the head arrived on. Defaults to `"http"`. */
  scheme?: "http" | "https";
}

const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const CR = 0x0d;
const LF = 0x0a;

// RFC 9112 §3: request-line = method SP request-target SP HTTP-version.
// The target is restricted to visible ASCII (RFC 3986 characters plus what
// browsers send unescaped); whitespace inside it is a MUST-reject 400.
const REQUEST_LINE = /^([^ ]+) ([\x21-\x7e]+) ([^ ]+)$/;
// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
// The SP before an empty reason is tolerated when missing (§4 SHOULD).
const STATUS_LINE = /^([^ ]+) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const HTTP_VERSION = /^HTTP\/[0-9]\.[0-9]$/;
// RFC 9110 §5.5: field-value chars are VCHAR, obs-text, SP and HTAB.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function invalid(message: string, rule: string, status = 400): WebSocketError {
  return new WebSocketError("WS_ERR_INVALID_HANDSHAKE", message, { status, rule });
}

/**
 * Reads bytes until the empty line that ends an HTTP head. The terminator is
 * found incrementally: each chunk is scanned once, from where the previous
 * scan stopped, jumping between LF bytes with `indexOf`.
 */
async function readHead(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  maxHeaderBytes: number,
): Promise<{ text: string; rest: Uint8Array }> {
  const chunks: Uint8Array[] = [];
  let total = 0; // bytes received so far
  let lineStart = 0; // absolute offset of the current line
  let lastByte = -1; // the byte before the current chunk
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      throw invalid("Connection closed before the end of the HTTP head", "RFC 9112 §2.1");
    }
    if (value.length === 0) continue;
    chunks.push(value);
    let from = 0;
    for (;;) {
      const i = value.indexOf(LF, from);
      if (i === -1) break;
      const before = i > 0 ? value[i - 1] : lastByte;
      // RFC 9112 §2.2: a recipient MAY accept a bare LF; we do not, so a
      // client that sends one gets a definite 400 rather than a timeout.
      if (before !== CR) throw invalid("Bare LF in HTTP head", "RFC 9112 §2.2");
      const lineEnd = total + i - 1; // absolute offset of the CR
      if (lineEnd === lineStart) {
        const headEnd = total + i + 1;
        if (headEnd > maxHeaderBytes) throw tooLarge(maxHeaderBytes);
        const restStart = i + 1;
        return { text: latin1(chunks, headEnd - 4), rest: value.subarray(restStart) };
      }
      lineStart = total + i + 1;
      from = i + 1;
    }
    total += value.length;
    lastByte = value[value.length - 1];
    // Not finished: the head is at least total + 1 bytes long.
    if (total >= maxHeaderBytes) throw tooLarge(maxHeaderBytes);
  }
}

function tooLarge(maxHeaderBytes: number): WebSocketError {
  return new WebSocketError(
    "WS_ERR_HEADERS_TOO_LARGE",
    `HTTP head too large: more than ${maxHeaderBytes} bytes`,
    { status: 431, rule: "RFC 6585 §5" },
  );
}

/** Decodes the first `length` bytes of `chunks` one byte per char (ISO-8859-1). */
function latin1(chunks: Uint8Array[], length: number): string {
  let text = "";
  let remaining = length;
  for (const chunk of chunks) {
    if (remaining <= 0) break;
    const part = chunk.subarray(0, Math.min(chunk.length, remaining));
    for (let i = 0; i < part.length; i += 0x2000) {
      text += String.fromCharCode(...part.subarray(i, i + 0x2000));
    }
    remaining -= part.length;
  }
  return text;
}

/** Parses the field lines that follow the start line. */
function parseFields(lines: string[], isRequest: boolean): Headers {
  const headers = new Headers();
  let hosts = 0;
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n];
    // RFC 9112 §5.2: obs-fold is rejected (a server MUST reject or unfold it).
    if (line[0] === " " || line[0] === "\t") {
      throw invalid("Obsolete line folding in HTTP head", "RFC 9112 §5.2");
    }
    const colon = line.indexOf(":");
    const name = colon === -1 ? "" : line.slice(0, colon);
    // RFC 9112 §5.1: no whitespace is allowed between the field name and the
    // colon; a server MUST reject such a message with 400.
    if (!isToken(name)) throw invalid("Invalid HTTP header field name", "RFC 9112 §5.1");
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    // RFC 9110 §5.5: CR, LF, NUL and other CTLs are invalid in field values.
    if (!FIELD_VALUE.test(value)) {
      throw invalid("Invalid character in HTTP header field value", "RFC 9110 §5.5");
    }
    if (isRequest && name.toLowerCase() === "host" && ++hosts > 1) {
      // RFC 9112 §3.2: more than one Host field is a MUST-reject 400.
      throw invalid("Duplicate Host header", "RFC 9112 §3.2");
    }
    headers.append(name, value);
  }
  return headers;
}

function splitLines(text: string): string[] {
  const lines = text.split("\r\n");
  // Every LF was checked to follow a CR; a CR left over here is a bare CR.
  for (const line of lines) {
    if (line.includes("\r")) throw invalid("Bare CR in HTTP head", "RFC 9112 §2.2");
  }
  return lines;
}

function checkVersion(version: string): void {
  if (version === "HTTP/1.1") return;
  // RFC 6455 §4.1: the handshake is an HTTP/1.1 exchange. A well-formed other
  // version gets 505 (RFC 9110 §15.6.6); anything else is malformed.
  if (HTTP_VERSION.test(version)) {
    throw invalid(`Unsupported HTTP version: ${version}`, "RFC 6455 §4.1", 505);
  }
  throw invalid("Invalid HTTP version", "RFC 9112 §2.3");
}

function maxBytes(options: ReadHeadOptions | undefined): number {
  const max = options?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`Invalid maxHeaderBytes: ${max}`);
  }
  return max;
}

/**
 * Reads one HTTP/1.1 request head from a byte stream, strictly: CRLF line
 * endings only, no obs-fold, no whitespace before a colon, token field names,
 * no control characters in values, at most one `Host`. Reads no further than
 * the chunk holding the end of the head; the bytes after it come back as
 * `rest`. The reader is left locked and open.
 *
 * @param reader A reader of the connection's readable side.
 * @param options The size limit.
 * @returns The parsed head and the bytes that followed it.
 * @throws {WebSocketError} `WS_ERR_HEADERS_TOO_LARGE` (status 431) past the
 * size limit; `WS_ERR_INVALID_HANDSHAKE` with status 400 for a malformed head
 * or end of stream before the head ended, or status 505 for an HTTP version
 * other than 1.1.
 * @throws {RangeError} If `maxHeaderBytes` is not a positive integer.
 *
 * @example Reading a request head
 * ```ts
 * import { readRequestHead } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const text = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\n";
 * const stream = new ReadableStream<Uint8Array>({
 *   start(controller) {
 *     // The head, then the first frame in the same chunk.
 *     controller.enqueue(new Uint8Array([...new TextEncoder().encode(text), 0x81, 0x00]));
 *     controller.close();
 *   },
 * });
 * const { head, rest } = await readRequestHead(stream.getReader());
 * assert.equal(head.method, "GET");
 * assert.equal(head.target, "/chat");
 * assert.equal(head.headers.get("upgrade"), "websocket");
 * assert.deepEqual([...rest], [0x81, 0x00]);
 * ```
 */
export async function readRequestHead(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  options?: ReadHeadOptions,
): Promise<HeadReadResult<RequestHead>> {
  const { text, rest } = await readHead(reader, maxBytes(options));
  const lines = splitLines(text);
  const match = REQUEST_LINE.exec(lines[0]);
  if (match === null || !isToken(match[1])) {
    throw invalid("Invalid HTTP request line", "RFC 9112 §3");
  }
  const [, method, target, version] = match;
  checkVersion(version);
  const headers = parseFields(lines, true);
  return { head: { method, target, version, headers }, rest };
}

/**
 * Reads one HTTP/1.1 response head from a byte stream, with the same strict
 * rules as {@linkcode readRequestHead}. The bytes after the head come back as
 * `rest`; the reader is left locked and open.
 *
 * @param reader A reader of the connection's readable side.
 * @param options The size limit.
 * @returns The parsed head and the bytes that followed it.
 * @throws {WebSocketError} `WS_ERR_HEADERS_TOO_LARGE` (status 431) past the
 * size limit; `WS_ERR_INVALID_HANDSHAKE` (status 400, or 505 for a version
 * other than HTTP/1.1) for a malformed head or an early end of stream.
 * @throws {RangeError} If `maxHeaderBytes` is not a positive integer.
 *
 * @example Reading a 101 response head
 * ```ts
 * import { readResponseHead } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode(
 *   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
 * );
 * const stream = new ReadableStream<Uint8Array>({
 *   start(controller) {
 *     controller.enqueue(bytes);
 *     controller.close();
 *   },
 * });
 * const { head, rest } = await readResponseHead(stream.getReader());
 * assert.equal(head.status, 101);
 * assert.equal(head.statusText, "Switching Protocols");
 * assert.equal(rest.length, 0);
 * ```
 */
export async function readResponseHead(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  options?: ReadHeadOptions,
): Promise<HeadReadResult<ResponseHead>> {
  const { text, rest } = await readHead(reader, maxBytes(options));
  const lines = splitLines(text);
  const match = STATUS_LINE.exec(lines[0]);
  if (match === null) throw invalid("Invalid HTTP status line", "RFC 9112 §4");
  const [, version, status, statusText = ""] = match;
  checkVersion(version);
  const headers = parseFields(lines, false);
  return { head: { version, status: Number(status), statusText, headers }, rest };
}

/** Spells a lower-case field name the conventional way, e.g. `Sec-WebSocket-Accept`. */
function fieldName(name: string): string {
  return name
    .split("-")
    .map((part) =>
      part === "websocket" ? "WebSocket" : part.charAt(0).toUpperCase() + part.slice(1)
    )
    .join("-");
}

function serialise(startLine: string, headers: Headers, body: Uint8Array | undefined): Uint8Array {
  let text = startLine + "\r\n";
  // Headers iterates lower-cased names, with each Set-Cookie on its own.
  for (const [name, value] of headers) text += `${fieldName(name)}: ${value}\r\n`;
  text += "\r\n";
  const head = new Uint8Array(text.length + (body?.length ?? 0));
  for (let i = 0; i < text.length; i++) head[i] = text.charCodeAt(i);
  if (body !== undefined) head.set(body, text.length);
  return head;
}

/**
 * Serialises an HTTP/1.1 response head, and for a rejection its body, to
 * bytes. For any status other than 101 the output also carries
 * `Content-Length` and `Connection: close`, since the connection ends after
 * a rejected handshake. A handshake decision can be passed as is.
 *
 * @param response The status, optional reason phrase, headers and body.
 * @returns The bytes to write to the connection.
 * @throws {TypeError} If the status is not an integer in 100–999, the reason
 * phrase holds CR, LF or other control characters, or a 1xx response has a body.
 *
 * @example Writing a 101 head
 * ```ts
 * import { writeResponseHead } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const bytes = writeResponseHead({
 *   status: 101,
 *   headers: new Headers({ Upgrade: "websocket", Connection: "Upgrade" }),
 * });
 * assert.equal(
 *   new TextDecoder().decode(bytes),
 *   "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
 * );
 * ```
 */
export function writeResponseHead(response: ResponseHeadInit): Uint8Array {
  const { status } = response;
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new TypeError(`Invalid HTTP status: ${status}`);
  }
  const statusText = response.statusText ?? STATUS_TEXT[status] ?? "";
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(statusText)) {
    throw new TypeError("Invalid HTTP reason phrase");
  }
  let body: Uint8Array | undefined;
  let headers = response.headers;
  if (status >= 200) {
    body = new TextEncoder().encode(response.body ?? "");
    headers = new Headers(headers);
    // RFC 9112 §6.3: delimit the body so the peer reads it whole; RFC 9112
    // §9.6: announce that the connection closes after it.
    headers.set("content-length", String(body.length));
    headers.set("connection", "close");
  } else if (response.body !== undefined && response.body !== "") {
    // RFC 9110 §15.2: 1xx responses have no content.
    throw new TypeError(`A ${status} response cannot have a body`);
  }
  return serialise(`HTTP/1.1 ${status} ${statusText}`, headers, body);
}

/**
 * Serialises an HTTP/1.1 request head to bytes.
 *
 * @param request The method, request-target and headers.
 * @returns The bytes to write to the connection.
 * @throws {TypeError} If the method is not a token or the target is empty or
 * holds whitespace or control characters.
 *
 * @example Writing an upgrade request head
 * ```ts
 * import { writeRequestHead } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const bytes = writeRequestHead({
 *   method: "GET",
 *   target: "/chat",
 *   headers: new Headers({ Host: "example.com" }),
 * });
 * assert.equal(new TextDecoder().decode(bytes), "GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n");
 * ```
 */
export function writeRequestHead(request: RequestHeadInit): Uint8Array {
  if (!isToken(request.method)) throw new TypeError(`Invalid HTTP method: ${request.method}`);
  if (!/^[\x21-\x7e]+$/.test(request.target)) {
    throw new TypeError(`Invalid HTTP request-target: ${request.target}`);
  }
  return serialise(`${request.method} ${request.target} HTTP/1.1`, request.headers, undefined);
}

/**
 * Turns a parsed request head into an {@linkcode UpgradeRequest} for
 * `negotiateUpgrade`, building the URL from `Host` and the request-target.
 * An absolute-form target is used as is (RFC 9112 §3.2.2).
 *
 * @param head The parsed request head.
 * @param options The scheme of the connection.
 * @returns The method, absolute URL and headers.
 * @throws {WebSocketError} `WS_ERR_INVALID_HANDSHAKE` (status 400) if the
 * target is neither origin-form nor absolute-form, or `Host` is missing or
 * does not make a valid URL.
 *
 * @example Building an upgrade request
 * ```ts
 * import { requestFromHead } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const request = requestFromHead(
 *   {
 *     method: "GET",
 *     target: "/chat?room=1",
 *     version: "HTTP/1.1",
 *     headers: new Headers({ Host: "example.com:8080" }),
 *   },
 *   { scheme: "https" },
 * );
 * assert.equal(request.url, "https://example.com:8080/chat?room=1");
 * ```
 */
export function requestFromHead(
  head: RequestHead,
  options?: RequestFromHeadOptions,
): UpgradeRequest {
  const scheme = options?.scheme ?? "http";
  let url: URL;
  if (head.target.startsWith("/")) {
    const host = head.headers.get("host");
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is a MUST-reject 400.
    if (host === null || host === "" || /[/?#@\\\s]/.test(host)) {
      throw invalid("Missing or invalid Host header", "RFC 9112 §3.2");
    }
    const parsed = URL.canParse(`${scheme}://${host}${head.target}`)
      ? new URL(`${scheme}://${host}${head.target}`)
      : null;
    if (parsed === null) throw invalid("Invalid Host header or request-target", "RFC 9112 §3.2");
    url = parsed;
  } else if (/^https?:\/\//i.test(head.target) && URL.canParse(head.target)) {
    url = new URL(head.target);
  } else {
    throw invalid("Invalid request-target", "RFC 9112 §3.2");
  }
  return { method: head.method, url: url.href, headers: head.headers };
}
