/**
 * The RFC 6455 §4 opening handshake, without I/O: validate an upgrade request
 * and decide the 101 (or the rejection) on the server; build the request and
 * verify the 101 on the client. Extension headers are parsed and formatted
 * here (RFC 6455 §9.1) for the permessage-deflate negotiation to build on.
 *
 * @module
 */

import { WebSocketError } from "./errors.ts";
import { decodeBase64, encodeBase64 } from "./_base64.ts";
import { hasToken, isToken, splitList } from "./_http_head.ts";

// RFC 6455 §1.3: the GUID appended to the key before hashing.
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * The parts of an HTTP request the server handshake reads. A fetch
 * `Request` satisfies it, and so does the result of `requestFromHead`.
 */
export interface UpgradeRequest {
  /** The request method. */
  method: string;
  /** The absolute request URL. */
  url: string;
  /** The request headers. */
  headers: Headers;
}

/** One `name[=value]` extension parameter; a parameter without a value has `true`. */
export type ExtensionParam = readonly [name: string, value: string | true];

/**
 * One element of a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1).
 * Parameters keep their order and any repetition, so an extension such as
 * permessage-deflate (RFC 7692 §7) can reject duplicates itself.
 */
export interface ExtensionOffer {
  /** The extension token, e.g. `permessage-deflate`, as sent. */
  name: string;
  /** The parameters in order, duplicates preserved; values are unquoted. */
  params: ExtensionParam[];
}

/** Chooses a subprotocol from the client's offer, or none. */
export type ProtocolSelector = (
  offered: string[],
  request: UpgradeRequest,
) => string | undefined | Promise<string | undefined>;

/** Decides whether a request's `Origin` (or its absence, `null`) is acceptable. */
export type OriginValidator = (
  origin: string | null,
  request: UpgradeRequest,
) => boolean | Promise<boolean>;

/**
 * Negotiates extensions: receives the client's offers in order and returns
 * the `Sec-WebSocket-Extensions` response value, or `undefined` for none.
 */
export type ExtensionNegotiator = (
  offers: ExtensionOffer[],
  request: UpgradeRequest,
) => string | undefined | Promise<string | undefined>;

/** Options for {@linkcode negotiateUpgrade}; all optional. */
export interface ServerHandshakeOptions {
  /**
   * The subprotocols the server speaks, most preferred first, or a function
   * that picks one of the client's offers. With a list, the first entry the
   * client also offered wins (server preference). With no match the
   * connection proceeds without a subprotocol unless `requireProtocol`.
   */
  protocols?: readonly string[] | ProtocolSelector;
  /** Reject with 400 when no subprotocol is agreed. Defaults to `false`. */
  requireProtocol?: boolean;
  /**
   * Allowed origins, compared case-insensitively with the serialised
   * `Origin` (e.g. `https://example.com:8443`), or a function deciding.
   * A rejected origin gets 403. With a list, a request without `Origin` is
   * allowed (non-browser clients do not send one, and the check only guards
   * against browsers, which always do); pass a function to refuse it.
   */
  origins?: readonly string[] | OriginValidator;
  /** Extra headers for the 101 response (e.g. `Set-Cookie`), or a function making them. */
  headers?: HeadersInit | ((request: UpgradeRequest) => HeadersInit);
  /**
   * Authorises the request after it was found to be a valid upgrade and its
   * origin accepted. Returning a `Response` rejects the handshake with that
   * response's status, headers and body.
   */
  authorize?: (
    request: UpgradeRequest,
  ) => Response | undefined | void | Promise<Response | undefined | void>;
  /** Negotiates extensions; without it every extension offer is declined. */
  extensions?: ExtensionNegotiator;
}

/** An accepted handshake: send these headers with status 101, then speak WebSocket. */
export interface UpgradeAccepted {
  /** Always `true`. */
  accepted: true;
  /** Always 101. */
  status: 101;
  /** Always `Switching Protocols`. */
  statusText: string;
  /**
   * `Upgrade`, `Connection`, `Sec-WebSocket-Accept`, the chosen
   * `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` if any, and the
   * custom headers.
   */
  headers: Headers;
  /** The agreed subprotocol, or `""`. */
  protocol: string;
  /** The `Sec-WebSocket-Extensions` response value, or `""`. */
  extensions: string;
}

/** A rejected handshake: answer with this status, headers and body, then close. */
export interface UpgradeRejected {
  /** Always `false`. */
  accepted: false;
  /** The HTTP status, e.g. 400, 403, 405, 426. */
  status: number;
  /** The reason phrase. */
  statusText: string;
  /** The response headers (`Content-Type`, and `Allow` or `Sec-WebSocket-Version` where due). */
  headers: Headers;
  /** A short plain-text body. */
  body: string;
  /** Why: `WS_ERR_INVALID_HANDSHAKE`, or `WS_ERR_HANDSHAKE_REJECTED` for a policy refusal. */
  error: WebSocketError;
}

/** The outcome of {@linkcode negotiateUpgrade}. */
export type UpgradeDecision = UpgradeAccepted | UpgradeRejected;

/** Options for {@linkcode createClientHandshake}. */
export interface ClientHandshakeOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string[];
  /**
   * Extra request headers. `Host` may be overridden; the handshake's own
   * `Upgrade`, `Connection` and `Sec-WebSocket-*` headers may not.
   */
  headers?: HeadersInit;
  /** The `Sec-WebSocket-Extensions` offer, e.g. `permessage-deflate; client_max_window_bits`. */
  extensions?: string;
  /** The `Origin` header to send, if any. */
  origin?: string;
  /** Fills a buffer with random bytes. Defaults to `crypto.getRandomValues`. */
  random?: (bytes: Uint8Array) => void;
}

/** The client's half of the opening handshake, ready to be written. */
export interface ClientHandshake {
  /** The `Sec-WebSocket-Key` sent, needed by {@linkcode verifyServerHandshake}. */
  key: string;
  /** The normalised URL (scheme `ws:` or `wss:`), for the dialer. */
  url: URL;
  /** The request to write. */
  request: {
    method: "GET";
    /** Path and query, e.g. `/chat?room=1`. */
    target: string;
    headers: Headers;
  };
}

/** What the client offered, for {@linkcode verifyServerHandshake}. */
export interface ClientOffer {
  /** The subprotocols offered. */
  protocols: string[];
  /** The names of the extensions offered. */
  extensions: string[];
}

/** The outcome of a successful client handshake. */
export interface ServerHandshakeResult {
  /** The subprotocol the server chose, or `""`. */
  protocol: string;
  /** The server's `Sec-WebSocket-Extensions` value, or `""`. */
  extensions: string;
}

/**
 * Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`:
 * base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2 step 5.4).
 *
 * @param key The client's `Sec-WebSocket-Key`.
 * @returns The matching `Sec-WebSocket-Accept` value.
 *
 * @example The RFC 6455 §1.3 example
 * ```ts
 * import { computeAccept } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await computeAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 */
export async function computeAccept(key: string): Promise<string> {
  const data = new TextEncoder().encode(key + GUID);
  const digest = await crypto.subtle.digest("SHA-1", data);
  return encodeBase64(new Uint8Array(digest));
}

// ---------------------------------------------------------------------------
// Extensions (RFC 6455 §9.1)

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1). Parameter values
 * may be tokens or quoted strings; a quoted value must still be a token once
 * unescaped (RFC 6455 §9.1, RFC 7692 §7.1). Whitespace around `,`, `;` and
 * `=` is allowed and empty list elements are skipped (RFC 9110 §5.6.1).
 *
 * @param header The header value (repeated headers joined with `,`).
 * @returns The offers in order, parameters in order with duplicates kept.
 * @throws {SyntaxError} If the value does not match the grammar.
 *
 * @example Parsing a permessage-deflate offer
 * ```ts
 * import { parseExtensions } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const offers = parseExtensions('permessage-deflate; client_max_window_bits; server_max_window_bits="10"');
 * assert.equal(offers[0].name, "permessage-deflate");
 * assert.deepEqual(offers[0].params, [["client_max_window_bits", true], ["server_max_window_bits", "10"]]);
 * ```
 */
export function parseExtensions(header: string): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  let pos = 0;
  const n = header.length;
  const fail = (what: string): never => {
    throw new SyntaxError(`Invalid Sec-WebSocket-Extensions header: ${what} at ${pos}`);
  };
  const skipOws = (): void => {
    while (pos < n && (header[pos] === " " || header[pos] === "\t")) pos++;
  };
  const token = (): string => {
    const start = pos;
    while (pos < n && isToken(header[pos])) pos++;
    if (pos === start) fail("expected a token");
    return header.slice(start, pos);
  };
  const quoted = (): string => {
    pos++; // opening DQUOTE
    let value = "";
    for (;;) {
      if (pos >= n) fail("unterminated quoted string");
      const c = header[pos++];
      if (c === '"') break;
      if (c === "\\") {
        if (pos >= n) fail("unterminated quoted string");
        value += header[pos++];
      } else {
        value += c;
      }
    }
    // RFC 6455 §9.1: the unescaped value of a quoted-string MUST be a token.
    if (!isToken(value)) fail("quoted value is not a token");
    return value;
  };
  for (;;) {
    skipOws();
    if (pos >= n) break;
    if (header[pos] === ",") { // empty list element
      pos++;
      continue;
    }
    const offer: ExtensionOffer = { name: token(), params: [] };
    offers.push(offer);
    skipOws();
    while (pos < n && header[pos] === ";") {
      pos++;
      skipOws();
      const name = token();
      skipOws();
      let value: string | true = true;
      if (header[pos] === "=") {
        pos++;
        skipOws();
        value = header[pos] === '"' ? quoted() : token();
        skipOws();
      }
      offer.params.push([name, value]);
    }
    if (pos < n && header[pos] !== ",") fail("unexpected character");
  }
  return offers;
}

/**
 * Formats extension offers or responses as a `Sec-WebSocket-Extensions`
 * value, the inverse of {@linkcode parseExtensions}.
 *
 * @param offers The extensions, each with ordered parameters.
 * @returns The header value, e.g. `permessage-deflate; client_max_window_bits=10`.
 * @throws {TypeError} If a name or value is not a token.
 *
 * @example Formatting a response
 * ```ts
 * import { formatExtensions } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const value = formatExtensions([
 *   { name: "permessage-deflate", params: [["server_no_context_takeover", true]] },
 * ]);
 * assert.equal(value, "permessage-deflate; server_no_context_takeover");
 * ```
 */
export function formatExtensions(offers: readonly ExtensionOffer[]): string {
  return offers.map((offer) => {
    if (!isToken(offer.name)) throw new TypeError(`Invalid extension name: ${offer.name}`);
    let text = offer.name;
    for (const [name, value] of offer.params) {
      if (!isToken(name)) throw new TypeError(`Invalid extension parameter name: ${name}`);
      if (value !== true && !isToken(value)) {
        throw new TypeError(`Invalid extension parameter value: ${value}`);
      }
      text += value === true ? `; ${name}` : `; ${name}=${value}`;
    }
    return text;
  }).join(", ");
}

// ---------------------------------------------------------------------------
// Server side (RFC 6455 §4.2)

const REJECTION_TEXT: Readonly<Record<number, string>> = {
  400: "Bad Request",
  403: "Forbidden",
  405: "Method Not Allowed",
  426: "Upgrade Required",
};

function reject(
  status: number,
  reason: string,
  rule: string,
  extra?: Record<string, string>,
): UpgradeRejected {
  const headers = new Headers({ "content-type": "text/plain; charset=utf-8", ...extra });
  const error = new WebSocketError("WS_ERR_INVALID_HANDSHAKE", `Invalid handshake: ${reason}`, {
    status,
    rule,
  });
  const statusText = REJECTION_TEXT[status] ?? "";
  return { accepted: false, status, statusText, headers, body: reason, error };
}

function refuse(status: number, reason: string, rule: string): UpgradeRejected {
  const decision = reject(status, reason, rule);
  decision.error = new WebSocketError(
    "WS_ERR_HANDSHAKE_REJECTED",
    `Handshake rejected: ${reason}`,
    { status, rule },
  );
  return decision;
}

/** Parses `Sec-WebSocket-Protocol` (RFC 6455 §4.1 item 10: 1#token), or `null` if invalid. */
function parseProtocols(value: string | null): string[] | null {
  if (value === null) return [];
  const list = splitList(value);
  return list.every(isToken) ? list : null;
}

function normaliseOrigin(origin: string): string {
  return origin.toLowerCase();
}

// Headers of the 101 that the custom headers must not replace.
const RESERVED_RESPONSE = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/**
 * Validates a WebSocket upgrade request and decides the server's answer
 * (RFC 6455 §4.2). Checks run in this order, the first failure deciding:
 *
 * 1. method `GET`, else 405 with `Allow: GET` (RFC 6455 §4.2.1 item 1);
 * 2. `Host` present, else 400 (§4.2.1 item 2);
 * 3. `Upgrade` lists `websocket`, else 400 (§4.2.1 item 3);
 * 4. `Connection` lists `upgrade`, else 400 (§4.2.1 item 4);
 * 5. `Sec-WebSocket-Version` is exactly `13`, else 426 with
 *    `Sec-WebSocket-Version: 13` (§4.2.2 step 4, §4.4);
 * 6. `Sec-WebSocket-Key` is one base64 value of 16 bytes, else 400 (§4.2.1 item 5);
 * 7. `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` are well formed, else 400;
 * 8. the origin is allowed, else 403 (§4.2.2 step 4, §10.2);
 * 9. `authorize` lets it through, else its `Response`;
 * 10. a subprotocol is agreed, else 400 when `requireProtocol`.
 *
 * Rejections carry a short plain-text body and never internal error text.
 * A 101 `Response` cannot be constructed (fetch allows only 200–599), so an
 * acceptance is a plain descriptor: write it with `writeResponseHead`, or
 * hand its headers to the runtime's upgrade.
 *
 * @param request The upgrade request (a `Request` will do).
 * @param options Subprotocols, origins, extra headers, authorisation, extensions.
 * @returns The decision: accepted with the 101's headers, or rejected with
 * the status, headers, body and error.
 * @throws {TypeError} If a `protocols` function answers with a subprotocol the
 * client did not offer, the extensions hook answers with an invalid value or
 * an extension the client did not offer, or custom headers try to replace a
 * handshake header. Errors thrown by the hooks propagate (answer 500).
 *
 * @example Accepting a chat client
 * ```ts
 * import { negotiateUpgrade } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const request = new Request("http://example.com/chat", {
 *   headers: {
 *     Host: "example.com",
 *     Upgrade: "websocket",
 *     Connection: "Upgrade",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "Sec-WebSocket-Version": "13",
 *     "Sec-WebSocket-Protocol": "chat, superchat",
 *   },
 * });
 * const decision = await negotiateUpgrade(request, { protocols: ["superchat", "chat"] });
 * assert.ok(decision.accepted);
 * assert.equal(decision.protocol, "superchat");
 * assert.equal(decision.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 */
export async function negotiateUpgrade(
  request: UpgradeRequest,
  options: ServerHandshakeOptions = {},
): Promise<UpgradeDecision> {
  const { headers } = request;
  // RFC 6455 §4.2.1 item 1: the handshake MUST be a GET. 405 rather than 400
  // because the resource exists and RFC 9110 §15.5.6 says which method works.
  if (request.method !== "GET") {
    return reject(405, "WebSocket upgrade requires GET", "RFC 6455 §4.2.1", { allow: "GET" });
  }
  // RFC 6455 §4.2.1 item 2: a Host header field.
  const host = headers.get("host");
  if (host === null || host === "") return reject(400, "Missing Host header", "RFC 6455 §4.2.1");
  // RFC 6455 §4.2.1 item 3: Upgrade includes the token "websocket",
  // case-insensitively (RFC 9110 §7.8 makes it a list).
  if (!hasToken(headers.get("upgrade"), "websocket")) {
    return reject(400, "Missing or invalid Upgrade header", "RFC 6455 §4.2.1");
  }
  // RFC 6455 §4.2.1 item 4: Connection includes the token "Upgrade",
  // case-insensitively, possibly among others (`keep-alive, Upgrade`).
  if (!hasToken(headers.get("connection"), "upgrade")) {
    return reject(400, "Missing or invalid Connection header", "RFC 6455 §4.2.1");
  }
  // RFC 6455 §4.2.2 step 4 and §4.4: an unsupported (or missing) version gets
  // 426 with the versions we speak, so the client can retry.
  if (headers.get("sec-websocket-version") !== "13") {
    return reject(426, "Unsupported WebSocket version", "RFC 6455 §4.4", {
      "sec-websocket-version": "13",
      upgrade: "websocket",
      connection: "Upgrade",
    });
  }
  // RFC 6455 §4.2.1 item 5: one base64 value decoding to 16 bytes. Repeated
  // headers come joined with ", " and fail the length check.
  const key = headers.get("sec-websocket-key");
  if (key === null || key.length !== 24 || !validKey(key)) {
    return reject(400, "Missing or invalid Sec-WebSocket-Key header", "RFC 6455 §4.2.1");
  }
  // RFC 6455 §4.1 item 10: Sec-WebSocket-Protocol is 1#token.
  const offered = parseProtocols(headers.get("sec-websocket-protocol"));
  if (offered === null) {
    return reject(400, "Invalid Sec-WebSocket-Protocol header", "RFC 6455 §4.1");
  }
  // RFC 6455 §9.1: the extension grammar.
  let offers: ExtensionOffer[];
  try {
    offers = parseExtensions(headers.get("sec-websocket-extensions") ?? "");
  } catch {
    return reject(400, "Invalid Sec-WebSocket-Extensions header", "RFC 6455 §9.1");
  }

  // RFC 6455 §4.2.2 step 4 / §10.2: the server may refuse origins with 403.
  const origin = headers.get("origin");
  const { origins } = options;
  if (origins !== undefined) {
    const allowed = typeof origins === "function"
      ? await origins(origin, request)
      : origin === null ||
        origins.some((o) => normaliseOrigin(o) === normaliseOrigin(origin));
    if (!allowed) return refuse(403, "Origin not allowed", "RFC 6455 §4.2.2");
  }

  if (options.authorize !== undefined) {
    const response = await options.authorize(request);
    if (response instanceof Response) {
      const body = await response.text();
      const error = new WebSocketError(
        "WS_ERR_HANDSHAKE_REJECTED",
        `Handshake rejected: status ${response.status}`,
        { status: response.status },
      );
      return {
        accepted: false,
        status: response.status,
        statusText: response.statusText,
        headers: new Headers(response.headers),
        body,
        error,
      };
    }
  }

  // RFC 6455 §4.2.2 step 5.4: choose one or none of the client's subprotocols.
  let protocol = "";
  const { protocols } = options;
  if (protocols !== undefined && offered.length > 0) {
    if (typeof protocols === "function") {
      const chosen = await protocols([...offered], request);
      if (chosen !== undefined) {
        if (!offered.includes(chosen)) {
          throw new TypeError(`Subprotocol not offered by the client: ${chosen}`);
        }
        protocol = chosen;
      }
    } else {
      protocol = protocols.find((p) => offered.includes(p)) ?? "";
    }
  }
  if (protocol === "" && options.requireProtocol === true) {
    return refuse(400, "No supported subprotocol offered", "RFC 6455 §4.2.2");
  }

  // RFC 6455 §4.2.2 step 5.5 / §9.1: the server answers with a subset of the
  // offered extensions.
  let extensions = "";
  if (options.extensions !== undefined && offers.length > 0) {
    const answer = await options.extensions(offers, request);
    if (answer !== undefined && answer !== "") {
      let accepted: ExtensionOffer[];
      try {
        accepted = parseExtensions(answer);
      } catch (cause) {
        throw new TypeError(`Invalid extensions response: ${answer}`, { cause });
      }
      for (const { name } of accepted) {
        if (!offers.some((offer) => offer.name === name)) {
          throw new TypeError(`Extension not offered by the client: ${name}`);
        }
      }
      extensions = answer;
    }
  }

  const out = new Headers();
  if (options.headers !== undefined) {
    const init = typeof options.headers === "function" ? options.headers(request) : options.headers;
    for (const [name, value] of new Headers(init)) {
      if (RESERVED_RESPONSE.has(name)) {
        throw new TypeError(`Custom headers cannot set a handshake header: ${name}`);
      }
      out.append(name, value);
    }
  }
  // RFC 6455 §4.2.2 step 5.
  out.set("upgrade", "websocket");
  out.set("connection", "Upgrade");
  out.set("sec-websocket-accept", await computeAccept(key));
  if (protocol !== "") out.set("sec-websocket-protocol", protocol);
  if (extensions !== "") out.set("sec-websocket-extensions", extensions);
  return {
    accepted: true,
    status: 101,
    statusText: "Switching Protocols",
    headers: out,
    protocol,
    extensions,
  };
}

function validKey(key: string): boolean {
  try {
    return decodeBase64(key).length === 16;
  } catch {
    return false;
  }
}

/**
 * Turns a rejected decision into a fetch `Response`, for fetch-style servers
 * (`Deno.serve`, `Bun.serve`, Hono).
 *
 * @param decision A rejected decision from {@linkcode negotiateUpgrade}.
 * @returns A response with the decision's status, headers and body.
 *
 * @example Answering a plain GET
 * ```ts
 * import { negotiateUpgrade, rejectionResponse } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const decision = await negotiateUpgrade(new Request("http://example.com/chat"));
 * assert.ok(!decision.accepted);
 * const response = rejectionResponse(decision);
 * assert.equal(response.status, 400);
 * ```
 */
export function rejectionResponse(decision: UpgradeRejected): Response {
  // 1xx and 204/205/304 cannot carry a body; a hook may have chosen those.
  const nullBody = [204, 205, 304].includes(decision.status) || decision.body === "";
  return new Response(nullBody ? null : decision.body, {
    status: decision.status,
    statusText: decision.statusText,
    headers: decision.headers,
  });
}

// ---------------------------------------------------------------------------
// Client side (RFC 6455 §4.1)

// The handshake's own request headers, which options.headers may not set.
const RESERVED_REQUEST = new Set([
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-accept",
]);

function syntaxError(message: string): DOMException {
  return new DOMException(message, "SyntaxError");
}

/**
 * Builds the client's opening handshake request (RFC 6455 §4.1), validating
 * the URL and subprotocols the way the WHATWG `WebSocket` constructor does.
 *
 * @param url The server URL: `ws:` or `wss:` (`http:`/`https:` are mapped to them).
 * @param options Subprotocols, extra headers, extension offer, origin, randomness.
 * @returns The key and the request to write.
 * @throws {DOMException} `SyntaxError` if the URL is invalid, has another
 * scheme or a fragment, or a subprotocol is not a token or repeats.
 * @throws {TypeError} If `headers` sets a handshake header or `extensions`
 * is not a valid extension list.
 *
 * @example Building a request
 * ```ts
 * import { createClientHandshake } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const { key, request } = createClientHandshake("ws://example.com:8080/chat?room=1", {
 *   protocols: ["chat"],
 * });
 * assert.equal(request.target, "/chat?room=1");
 * assert.equal(request.headers.get("host"), "example.com:8080");
 * assert.equal(request.headers.get("sec-websocket-key"), key);
 * ```
 */
export function createClientHandshake(
  url: URL | string,
  options: ClientHandshakeOptions = {},
): ClientHandshake {
  // WHATWG WebSockets §3.1 "new WebSocket()": parse, map http(s) to ws(s),
  // refuse other schemes and any fragment with a SyntaxError.
  const href = typeof url === "string" ? url : url.href;
  if (!URL.canParse(href)) throw syntaxError(`Invalid WebSocket URL: ${href}`);
  const parsed = new URL(href);
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw syntaxError(`Invalid WebSocket URL scheme: ${parsed.protocol}`);
  }
  if (parsed.href.includes("#")) throw syntaxError("WebSocket URL cannot have a fragment");

  const protocols = options.protocols ?? [];
  const seen = new Set<string>();
  for (const protocol of protocols) {
    // RFC 6455 §4.1 item 10: each subprotocol is a token, listed once.
    if (!isToken(protocol)) throw syntaxError(`Invalid subprotocol: ${protocol}`);
    if (seen.has(protocol)) throw syntaxError(`Duplicate subprotocol: ${protocol}`);
    seen.add(protocol);
  }
  if (options.extensions !== undefined && options.extensions !== "") {
    try {
      parseExtensions(options.extensions);
    } catch (cause) {
      throw new TypeError(`Invalid extensions offer: ${options.extensions}`, { cause });
    }
  }

  // RFC 6455 §4.1 item 7: 16 random bytes, base64-encoded, fresh per connection.
  const nonce = new Uint8Array(16);
  (options.random ?? ((bytes: Uint8Array) => crypto.getRandomValues(bytes)))(nonce);
  const key = encodeBase64(nonce);

  const headers = new Headers();
  // RFC 6455 §4.1 item 4: Host, with the port when it is not the default
  // (URL.host already omits 80 for ws: and 443 for wss:).
  headers.set("host", parsed.host);
  headers.set("upgrade", "websocket");
  headers.set("connection", "Upgrade");
  headers.set("sec-websocket-key", key);
  headers.set("sec-websocket-version", "13");
  if (protocols.length > 0) headers.set("sec-websocket-protocol", protocols.join(", "));
  if (options.extensions !== undefined && options.extensions !== "") {
    headers.set("sec-websocket-extensions", options.extensions);
  }
  if (options.origin !== undefined) headers.set("origin", options.origin);
  if (options.headers !== undefined) {
    for (const [name, value] of new Headers(options.headers)) {
      if (RESERVED_REQUEST.has(name)) {
        throw new TypeError(`Custom headers cannot set a handshake header: ${name}`);
      }
      if (name === "host") headers.set(name, value);
      else headers.append(name, value);
    }
  }
  const target = `${parsed.pathname || "/"}${parsed.search}`;
  return { key, url: parsed, request: { method: "GET", target, headers } };
}

/**
 * Verifies the server's answer to the opening handshake (RFC 6455 §4.1,
 * "the client MUST validate the server's response").
 *
 * @param response The response status and headers.
 * @param key The `Sec-WebSocket-Key` the client sent.
 * @param offered The subprotocols and extension names the client offered.
 * @returns The agreed subprotocol and extensions (`""` for none).
 * @throws {WebSocketError} `WS_ERR_HANDSHAKE_REJECTED` (with that status) if
 * the status is not 101; `WS_ERR_INVALID_HANDSHAKE` if a header is missing
 * or wrong, or the server chose what was not offered.
 *
 * @example Verifying a 101
 * ```ts
 * import { verifyServerHandshake } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const result = await verifyServerHandshake(
 *   {
 *     status: 101,
 *     headers: new Headers({
 *       Upgrade: "websocket",
 *       Connection: "Upgrade",
 *       "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
 *       "Sec-WebSocket-Protocol": "chat",
 *     }),
 *   },
 *   "dGhlIHNhbXBsZSBub25jZQ==",
 *   { protocols: ["chat"], extensions: [] },
 * );
 * assert.deepEqual(result, { protocol: "chat", extensions: "" });
 * ```
 */
export async function verifyServerHandshake(
  response: { status: number; headers: Headers },
  key: string,
  offered: ClientOffer,
): Promise<ServerHandshakeResult> {
  const { status, headers } = response;
  const fail = (reason: string, rule: string): WebSocketError =>
    new WebSocketError("WS_ERR_INVALID_HANDSHAKE", `Invalid handshake response: ${reason}`, {
      status,
      rule,
    });
  // RFC 6455 §4.1: any status other than 101 means the handshake did not
  // complete; the client handles it per HTTP (we report it).
  if (status !== 101) {
    throw new WebSocketError("WS_ERR_HANDSHAKE_REJECTED", `Handshake rejected: status ${status}`, {
      status,
      rule: "RFC 6455 §4.1",
    });
  }
  // RFC 6455 §4.1 items 2 and 3 of the response checks.
  if (!hasToken(headers.get("upgrade"), "websocket")) {
    throw fail("missing or invalid Upgrade header", "RFC 6455 §4.1");
  }
  if (!hasToken(headers.get("connection"), "upgrade")) {
    throw fail("missing or invalid Connection header", "RFC 6455 §4.1");
  }
  // RFC 6455 §4.1 item 4: the accept value must match exactly.
  if (headers.get("sec-websocket-accept") !== await computeAccept(key)) {
    throw fail("missing or invalid Sec-WebSocket-Accept header", "RFC 6455 §4.1");
  }
  // RFC 6455 §4.1 item 6: a subprotocol that was not offered fails the
  // connection; repeated headers come joined with ", " and so fail too.
  const protocol = headers.get("sec-websocket-protocol") ?? "";
  if (protocol !== "" && !offered.protocols.includes(protocol)) {
    throw fail(`subprotocol not offered: ${protocol}`, "RFC 6455 §4.1");
  }
  // RFC 6455 §4.1 item 5: only offered extensions may be in use.
  const extensions = headers.get("sec-websocket-extensions") ?? "";
  let accepted: ExtensionOffer[];
  try {
    accepted = parseExtensions(extensions);
  } catch {
    throw fail("invalid Sec-WebSocket-Extensions header", "RFC 6455 §9.1");
  }
  for (const { name } of accepted) {
    if (!offered.extensions.includes(name)) {
      throw fail(`extension not offered: ${name}`, "RFC 6455 §4.1");
    }
  }
  return { protocol, extensions };
}
