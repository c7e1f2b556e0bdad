/**
 * permessage-deflate (RFC 7692) over the web platform's `CompressionStream`
 * and `DecompressionStream` (`deflate-raw`): negotiation of the four
 * parameters, and the per-connection compressor and decompressor.
 *
 * How message boundaries are found without a synchronous flush:
 *
 * - **Receiving.** Every compressed message is inflated by a fresh
 *   `DecompressionStream` that is closed at the end of the message, so "all
 *   output arrived" is simply the stream's end. When the peer uses context
 *   takeover, the last 32 KiB of inflated data (the largest LZ77 window, RFC
 *   7692 §7.1.2) is kept and replayed in front of the message as a stored
 *   DEFLATE block, which makes the peer's back-references resolve exactly as
 *   in one long-lived inflater. Input is fed in slices sized from the
 *   remaining size budget, so a small "bomb" fails with 1009 before it is
 *   inflated in full.
 * - **Sending.** Whether `CompressionStream` flushes (Z_SYNC_FLUSH) after each
 *   write is detected once per process with {@linkcode detectDeflateFlush}
 *   (Deno does; Node 20 and Bun do not). Where it does, one compressor per
 *   connection is kept (context takeover) and each message ends at its
 *   `00 00 ff ff` marker, which is stripped (RFC 7692 §7.2.1). Where it does
 *   not, each message gets a fresh compressor that is closed, and the message
 *   ends with a final block followed by one `0x00` octet (RFC 7692 §7.2.3.4);
 *   that needs `<our side>_no_context_takeover`, which a server then always
 *   answers with and a client always offers.
 *
 * `CompressionStream` always compresses with a 32 KiB window and cannot be
 * told otherwise; when the peer asks for a smaller window for our messages
 * (`<our side>_max_window_bits` below 15), the extension is accepted but
 * our messages go out uncompressed, which RFC 7692 §6 allows for any
 * message. We always inflate with the full window, so any window the peer
 * uses is fine.
 *
 * @module
 */

import { concat } from "./_bytes.ts";
import { WebSocketError } from "./errors.ts";
import { type ExtensionOffer, type ExtensionParam, formatExtensions } from "./handshake.ts";

/** The extension token (RFC 7692 §7). */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/**
 * permessage-deflate settings. On a server they shape the response to the
 * client's offers; on a client they shape the offer.
 */
export interface DeflateOptions {
  /**
   * Server: answer with `server_no_context_takeover` even when the client did
   * not ask (saves a compressor per connection). Client: ask for it. Default `false`.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: `true` always asks the client to reset its context per message,
   * `false` never accepts the client's hint, unset accepts the hint when offered.
   * Client: offer it (it is offered anyway where `CompressionStream` cannot
   * flush per write). Default unset.
   */
  clientNoContextTakeover?: boolean;
  /**
   * The window the server compresses with, 8–15. Client: offered as
   * `server_max_window_bits`. Server: sent in the response. Below 15 the
   * server's messages go out uncompressed (`CompressionStream` cannot limit
   * its window). Default unset (15).
   */
  serverMaxWindowBits?: number;
  /**
   * The client's window, 8–15, or `true` (client only: offer
   * `client_max_window_bits` without a value). Server: sent when the client
   * offered the parameter, limiting the client's memory. Client: below 15
   * (or a server limit below 15) its messages go out uncompressed.
   */
  clientMaxWindowBits?: number | true;
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
}

/** The agreed parameters of a negotiated permessage-deflate (RFC 7692 §7.1). */
export interface DeflateParams {
  /** The server resets its compression context after each message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compression context after each message. */
  clientNoContextTakeover: boolean;
  /** The largest window the server compresses with (8–15). */
  serverMaxWindowBits: number;
  /** The largest window the client compresses with (8–15). */
  clientMaxWindowBits: number;
}

const PARAM_NAMES = new Set([
  "server_no_context_takeover",
  "client_no_context_takeover",
  "server_max_window_bits",
  "client_max_window_bits",
]);

// RFC 7692 §7.1.2.1: a decimal integer from 8 to 15, no leading zeros.
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/** Parsed, validated parameters of one offer or response element. */
interface RawParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | true | undefined;
}

/**
 * Validates the parameters of one permessage-deflate element (RFC 7692
 * §7.1): only the four defined names, each at most once, the takeover
 * flags without a value, window bits 8–15 (`client_max_window_bits` may
 * lack a value only in an offer).
 *
 * @returns The parameters, or a reason they are invalid.
 */
function readParams(
  params: readonly ExtensionParam[],
  kind: "offer" | "response",
): RawParams | string {
  const seen = new Set<string>();
  const out: RawParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  for (const [rawName, value] of params) {
    const name = rawName.toLowerCase();
    // RFC 7692 §7.1: unknown parameters and repeated parameters are errors.
    if (!PARAM_NAMES.has(name)) return `unknown parameter ${rawName}`;
    if (seen.has(name)) return `duplicate parameter ${rawName}`;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        // RFC 7692 §7.1.1: these parameters have no value.
        if (value !== true) return `${rawName} takes no value`;
        if (name === "server_no_context_takeover") out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
        // RFC 7692 §7.1.2.1: always with a value.
        if (value === true || !WINDOW_BITS.test(value)) return `invalid ${rawName}`;
        out.serverMaxWindowBits = Number(value);
        break;
      case "client_max_window_bits":
        // RFC 7692 §7.1.2.2: may lack a value in an offer, never in a response.
        if (value === true) {
          if (kind === "response") return `${rawName} needs a value in a response`;
          out.clientMaxWindowBits = true;
        } else if (!WINDOW_BITS.test(value)) {
          return `invalid ${rawName}`;
        } else out.clientMaxWindowBits = Number(value);
        break;
    }
  }
  return out;
}

function checkWindowBits(value: number | true | undefined, name: string, allowTrue: boolean): void {
  if (value === undefined || (value === true && allowTrue)) return;
  if (value === true || !Number.isInteger(value) || value < 8 || value > 15) {
    throw new RangeError(`Invalid ${name}: ${value}, expected an integer from 8 to 15`);
  }
}

function checkOptions(options: DeflateOptions): void {
  checkWindowBits(options.serverMaxWindowBits, "serverMaxWindowBits", false);
  checkWindowBits(options.clientMaxWindowBits, "clientMaxWindowBits", true);
  if (options.threshold !== undefined && !(options.threshold >= 0)) {
    throw new RangeError(`Invalid threshold: ${options.threshold}`);
  }
}

/** The outcome of {@linkcode negotiateDeflate}. */
export interface DeflateNegotiation {
  /** The `Sec-WebSocket-Extensions` response element. */
  response: string;
  /** The agreed parameters. */
  params: DeflateParams;
}

/**
 * Server side of RFC 7692 §7.1: goes through the client's offers in order
 * and accepts the first permessage-deflate offer it can honour. Offers with
 * unknown, repeated or invalid parameters are declined (RFC 7692 §7.1).
 *
 * @param offers The client's extension offers, in order (others are ignored).
 * @param options The server's settings.
 * @param flushPerWrite Whether `CompressionStream` flushes per write here
 * (from {@linkcode detectDeflateFlush}); without it the response always holds
 * `server_no_context_takeover`.
 * @returns The response element and agreed parameters, or `undefined` to decline all.
 * @throws {RangeError} For invalid options.
 *
 * @example Accepting Chromium's offer
 * ```ts
 * import { negotiateDeflate, parseExtensions } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const offers = parseExtensions("permessage-deflate; client_max_window_bits");
 * const result = negotiateDeflate(offers, {}, true);
 * assert.equal(result?.response, "permessage-deflate");
 * assert.equal(result?.params.clientMaxWindowBits, 15);
 * ```
 */
export function negotiateDeflate(
  offers: readonly ExtensionOffer[],
  options: DeflateOptions,
  flushPerWrite: boolean,
): DeflateNegotiation | undefined {
  checkOptions(options);
  for (const offer of offers) {
    if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    const raw = readParams(offer.params, "offer");
    if (typeof raw === "string") continue; // RFC 7692 §7.1: decline this offer.
    const response: ExtensionParam[] = [];
    // RFC 7692 §7.1.1.1: a requested server_no_context_takeover must be
    // accepted by echoing it; a server may also add it on its own.
    const serverNoContext = raw.serverNoContextTakeover ||
      options.serverNoContextTakeover === true ||
      !flushPerWrite;
    if (serverNoContext) response.push(["server_no_context_takeover", true]);
    // RFC 7692 §7.1.1.2: the client's hint is accepted by echoing it; a
    // server may also ask for it.
    const clientNoContext = options.clientNoContextTakeover ??
      raw.clientNoContextTakeover;
    if (clientNoContext) response.push(["client_no_context_takeover", true]);
    // RFC 7692 §7.1.2.1: answer a limit with the same or a smaller value.
    let serverBits = raw.serverMaxWindowBits;
    if (options.serverMaxWindowBits !== undefined) {
      serverBits = Math.min(serverBits ?? 15, options.serverMaxWindowBits);
    }
    if (serverBits !== undefined) response.push(["server_max_window_bits", String(serverBits)]);
    // RFC 7692 §7.1.2.2: only when offered, and no larger than an offered value.
    let clientBits = 15;
    if (raw.clientMaxWindowBits !== undefined) {
      const offered = raw.clientMaxWindowBits === true ? 15 : raw.clientMaxWindowBits;
      clientBits = offered;
      const wanted = options.clientMaxWindowBits;
      if (typeof wanted === "number" && wanted < offered) clientBits = wanted;
      if (typeof wanted === "number" || raw.clientMaxWindowBits !== true) {
        response.push(["client_max_window_bits", String(clientBits)]);
      }
    }
    return {
      response: formatExtensions([{ name: PERMESSAGE_DEFLATE, params: response }]),
      params: {
        serverNoContextTakeover: serverNoContext,
        clientNoContextTakeover: clientNoContext,
        serverMaxWindowBits: serverBits ?? 15,
        clientMaxWindowBits: clientBits,
      },
    };
  }
  return undefined;
}

/**
 * Builds a client's permessage-deflate offer (RFC 7692 §7.1).
 *
 * @param options The client's settings.
 * @param flushPerWrite Whether `CompressionStream` flushes per write here;
 * without it `client_no_context_takeover` is offered, as each message then
 * needs a fresh compressor.
 * @returns One `Sec-WebSocket-Extensions` element.
 * @throws {RangeError} For invalid options.
 *
 * @example A default offer
 * ```ts
 * import { deflateOffer } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(deflateOffer({}, true), "permessage-deflate");
 * assert.equal(deflateOffer({}, false), "permessage-deflate; client_no_context_takeover");
 * ```
 */
export function deflateOffer(options: DeflateOptions, flushPerWrite: boolean): string {
  checkOptions(options);
  const params: ExtensionParam[] = [];
  if (options.serverNoContextTakeover) params.push(["server_no_context_takeover", true]);
  if (options.clientNoContextTakeover || !flushPerWrite) {
    params.push(["client_no_context_takeover", true]);
  }
  if (options.serverMaxWindowBits !== undefined) {
    params.push(["server_max_window_bits", String(options.serverMaxWindowBits)]);
  }
  if (options.clientMaxWindowBits !== undefined) {
    params.push([
      "client_max_window_bits",
      options.clientMaxWindowBits === true ? true : String(options.clientMaxWindowBits),
    ]);
  }
  return formatExtensions([{ name: PERMESSAGE_DEFLATE, params }]);
}

/**
 * Client side of RFC 7692 §7.1: validates the server's response to an
 * offer built by {@linkcode deflateOffer} with the same options.
 *
 * @param accepted The server's accepted extensions (all of them; others are ignored).
 * @param options The options the offer was built with.
 * @param flushPerWrite As given to {@linkcode deflateOffer}.
 * @returns The agreed parameters, or `undefined` if the server declined.
 * @throws {WebSocketError} `WS_ERR_INVALID_HANDSHAKE` when the response is
 * invalid: the client must fail the connection (RFC 7692 §7.1).
 *
 * @example Checking a response
 * ```ts
 * import { acceptDeflateResponse, parseExtensions } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const params = acceptDeflateResponse(
 *   parseExtensions("permessage-deflate; server_no_context_takeover"),
 *   {},
 *   true,
 * );
 * assert.equal(params?.serverNoContextTakeover, true);
 * assert.throws(
 *   () => acceptDeflateResponse(parseExtensions("permessage-deflate; client_max_window_bits=10"), {}, true),
 *   { code: "WS_ERR_INVALID_HANDSHAKE" },
 * );
 * ```
 */
export function acceptDeflateResponse(
  accepted: readonly ExtensionOffer[],
  options: DeflateOptions,
  flushPerWrite: boolean,
): DeflateParams | undefined {
  const fail = (reason: string): WebSocketError =>
    new WebSocketError(
      "WS_ERR_INVALID_HANDSHAKE",
      `Invalid permessage-deflate response: ${reason}`,
      { closeCode: 1006, status: 101, rule: "RFC 7692 §7.1" },
    );
  const elements = accepted.filter((e) => e.name.toLowerCase() === PERMESSAGE_DEFLATE);
  if (elements.length === 0) return undefined;
  // RFC 6455 §9.1 / RFC 7692 §7.1: we made one offer; it can be accepted once.
  if (elements.length > 1) throw fail("accepted more than once");
  const raw = readParams(elements[0].params, "response");
  if (typeof raw === "string") throw fail(raw);
  // RFC 7692 §7.1.2.2: client_max_window_bits only if we offered it.
  if (raw.clientMaxWindowBits !== undefined && options.clientMaxWindowBits === undefined) {
    throw fail("client_max_window_bits was not offered");
  }
  if (
    typeof raw.clientMaxWindowBits === "number" &&
    typeof options.clientMaxWindowBits === "number" &&
    raw.clientMaxWindowBits > options.clientMaxWindowBits
  ) {
    // Not an RFC MUST, but a larger window than we said we use makes no sense.
    throw fail("client_max_window_bits larger than offered");
  }
  // RFC 7692 §7.1.2.1: the server's window no larger than we asked for.
  if (
    options.serverMaxWindowBits !== undefined &&
    (raw.serverMaxWindowBits === undefined || raw.serverMaxWindowBits > options.serverMaxWindowBits)
  ) {
    throw fail("server_max_window_bits missing or larger than offered");
  }
  // RFC 7692 §7.1.1.1: a requested server_no_context_takeover must be echoed.
  if (options.serverNoContextTakeover && !raw.serverNoContextTakeover) {
    throw fail("server_no_context_takeover not accepted");
  }
  let clientBits = typeof options.clientMaxWindowBits === "number"
    ? options.clientMaxWindowBits
    : 15;
  if (typeof raw.clientMaxWindowBits === "number") {
    clientBits = Math.min(clientBits, raw.clientMaxWindowBits);
  }
  return {
    serverNoContextTakeover: raw.serverNoContextTakeover,
    // We offered it as a hint (RFC 7692 §7.1.1.2) and keep to it either way.
    clientNoContextTakeover: raw.clientNoContextTakeover ||
      options.clientNoContextTakeover === true ||
      !flushPerWrite,
    serverMaxWindowBits: raw.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: clientBits,
  };
}

// ---------------------------------------------------------------------------
// Runtime detection

let flushDetection: Promise<boolean> | undefined;
/**
 * Messages are written to a flushing compressor in slices of this size:
 * Deno 2.9 holds back part of a flush whose output passes about 32 KiB.
 */
const FLUSH_SLICE = 16 * 1024;

/**
 * Detects, once per process, whether `CompressionStream("deflate-raw")` ends
 * every write of up to 16 KiB with a sync flush (`00 00 ff ff`) in exactly
 * one output chunk, even when the bytes do not compress. That is what lets
 * one compressor serve a whole connection (context takeover); messages are
 * written to it in 16 KiB slices. Deno 2.9 does this (a write whose output
 * passes about 32 KiB is not fully flushed, hence the slices); Node 20 and
 * Bun hold all output until the stream closes. Anything unexpected counts as
 * `false`, the safe answer.
 *
 * @returns Whether per-write flushing can be relied on.
 *
 * @example
 * ```ts
 * import { detectDeflateFlush } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(typeof await detectDeflateFlush(), "boolean");
 * ```
 */
export function detectDeflateFlush(): Promise<boolean> {
  return flushDetection ??= probeFlush().catch(() => false);
}

async function probeFlush(): Promise<boolean> {
  if (typeof CompressionStream === "undefined") return false;
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  try {
    // Incompressible slices: their output is the largest a slice can give.
    const big = new Uint8Array(FLUSH_SLICE);
    let x = 0x9e3779b9;
    for (let i = 0; i < big.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      big[i] = x & 0xff;
    }
    let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
    for (const input of [new TextEncoder().encode("edgesocket"), big, big.slice(1), big]) {
      writer.write(input).catch(() => {});
      const first = await raceMacrotask(pending ?? reader.read());
      if (first === undefined || first.done || !endsWithMarker(first.value)) return false;
      // Nothing more may follow for this write.
      pending = reader.read();
      pending.catch(() => {});
      if (await raceMacrotask(pending) !== undefined) return false;
    }
    return true;
  } finally {
    reader.cancel().catch(() => {});
    writer.abort().catch(() => {});
  }
}

function raceMacrotask<T>(promise: Promise<T>): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), 20)),
  ]).finally(() => clearTimeout(timer));
}

function endsWithMarker(bytes: Uint8Array): boolean {
  const n = bytes.length;
  return n >= 4 && bytes[n - 4] === 0 && bytes[n - 3] === 0 && bytes[n - 2] === 0xff &&
    bytes[n - 1] === 0xff;
}

// ---------------------------------------------------------------------------
// Concurrency bound

let limit = 8;
let active = 0;
const waiting: (() => void)[] = [];

/**
 * Sets how many compressions and decompressions may run at once in this
 * process (default 8); the others wait their turn. Each running job holds a
 * zlib state (about 256 KiB to compress, 40 KiB to inflate) and the CPU.
 *
 * @param concurrency At least 1.
 * @throws {RangeError} If `concurrency` is not a positive integer.
 *
 * @example
 * ```ts
 * import { setDeflateConcurrency } from "@edgesocket/core";
 *
 * setDeflateConcurrency(4);
 * setDeflateConcurrency(8);
 * ```
 */
export function setDeflateConcurrency(concurrency: number): void {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`Invalid deflate concurrency: ${concurrency}`);
  }
  limit = concurrency;
  while (active < limit && waiting.length > 0) {
    active++;
    waiting.shift()!();
  }
}

async function withSlot<T>(job: () => Promise<T>): Promise<T> {
  if (active < limit) active++;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await job();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else active--;
  }
}

// ---------------------------------------------------------------------------
// The per-connection extension

/** Options for {@linkcode PerMessageDeflate}. */
export interface PerMessageDeflateOptions {
  /** Our side of the connection. */
  role: "client" | "server";
  /** The agreed parameters. */
  params: DeflateParams;
  /** Whether `CompressionStream` flushes per write ({@linkcode detectDeflateFlush}). */
  flushPerWrite: boolean;
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
}

// RFC 7692 §7.2.2: the marker we append, then an empty final block (fixed
// Huffman, BFINAL=1) so the stream can be closed cleanly.
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff, 0x03, 0x00]);
const WINDOW = 32 * 1024;
const EMPTY_MESSAGE = new Uint8Array([0x00]);
// DEFLATE's largest expansion is about 1032:1.
const MAX_RATIO = 1032;

class TooBig extends Error {}

/**
 * One connection's permessage-deflate state: inflates received messages in
 * order and compresses outgoing ones, per the agreed parameters.
 *
 * @example A round trip between a client and a server state
 * ```ts
 * import { PerMessageDeflate } from "@edgesocket/core";
 * import assert from "node:assert/strict";
 *
 * const params = {
 *   serverNoContextTakeover: false,
 *   clientNoContextTakeover: false,
 *   serverMaxWindowBits: 15,
 *   clientMaxWindowBits: 15,
 * };
 * const flushPerWrite = true;
 * const client = new PerMessageDeflate({ role: "client", params, flushPerWrite });
 * const server = new PerMessageDeflate({ role: "server", params, flushPerWrite });
 * const data = new TextEncoder().encode("Hello, Hello, Hello");
 * const compressed = await client.compress(data);
 * assert.ok(compressed);
 * assert.deepEqual(await server.inflate(compressed, 1024), data);
 * client.dispose();
 * ```
 */
export class PerMessageDeflate {
  /** The agreed parameters. */
  readonly params: DeflateParams;
  /** Messages smaller than this are sent uncompressed. */
  readonly threshold: number;
  /** Whether our messages can be compressed under the agreed parameters. */
  readonly canCompress: boolean;
  #ownReset: boolean;
  #peerReset: boolean;
  #persistent: boolean;
  #flushPerWrite: boolean;
  #window: Uint8Array | undefined;
  #compressor:
    | {
      writer: WritableStreamDefaultWriter<BufferSource>;
      reader: ReadableStreamDefaultReader<Uint8Array>;
    }
    | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #disposed = false;

  /**
   * Creates the state for one connection.
   *
   * @param options Role, agreed parameters, runtime flush support, threshold.
   */
  constructor(options: PerMessageDeflateOptions) {
    const { params, role } = options;
    this.params = params;
    this.threshold = options.threshold ?? 1024;
    const server = role === "server";
    this.#ownReset = server ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.#peerReset = server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    const ownBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    this.#flushPerWrite = options.flushPerWrite;
    // We can only compress with a 15-bit window, and without a per-write
    // flush only with a fresh compressor per message.
    this.canCompress = ownBits === 15 && (this.#flushPerWrite || this.#ownReset);
    this.#persistent = this.#flushPerWrite && !this.#ownReset;
  }

  /**
   * Inflates one message's payload (RFC 7692 §7.2.2). Calls run one after
   * another, in call order.
   *
   * @param payload The compressed payload, all frames joined.
   * @param maxSize The largest inflated size accepted.
   * @returns The inflated bytes.
   * @throws {WebSocketError} `WS_ERR_MESSAGE_TOO_BIG` (1009) past `maxSize`,
   * `WS_ERR_INVALID_COMPRESSED_DATA` (1007) for data that does not inflate.
   */
  inflate(payload: Uint8Array, maxSize: number): Promise<Uint8Array> {
    return this.#serial(() => withSlot(() => this.#inflate(payload, maxSize)));
  }

  /**
   * Compresses one message's payload (RFC 7692 §7.2.1). Calls run one after
   * another, in call order.
   *
   * @param data The message bytes; not modified.
   * @returns The payload to send with RSV1, or `undefined` when our messages
   * cannot be compressed under the agreed parameters.
   */
  compress(data: Uint8Array): Promise<Uint8Array | undefined> {
    if (!this.canCompress) return Promise.resolve(undefined);
    return this.#serial(() => withSlot(() => this.#compress(data)));
  }

  /** Releases the persistent compressor, if any. */
  dispose(): void {
    this.#disposed = true;
    this.#window = undefined;
    const compressor = this.#compressor;
    this.#compressor = undefined;
    compressor?.reader.cancel().catch(() => {});
    compressor?.writer.abort().catch(() => {});
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(job);
    this.#chain = result.catch(() => {});
    return result;
  }

  async #inflate(payload: Uint8Array, maxSize: number): Promise<Uint8Array> {
    const window = this.#peerReset ? undefined : this.#window;
    const prefix = window ? storedBlock(window) : undefined;
    const skip = window ? window.length : 0;
    let output: Uint8Array | undefined;
    try {
      // The usual case: a sync-flushed message (RFC 7692 §7.2.1).
      output = await inflateRun(prefix, payload, TAIL, skip, maxSize);
    } catch (error) {
      if (error instanceof TooBig) throw tooBig(maxSize);
      // RFC 7692 §7.2.3.4: a message may end with a final block, then (in the
      // RFC's example) one 0x00 octet. Deno's and Bun's inflaters reject any
      // byte after a final block, so retry without them.
      for (const cut of [1, 0]) {
        if (cut === 1 && payload[payload.length - 1] !== 0) continue;
        try {
          output = await inflateRun(
            prefix,
            payload.subarray(0, payload.length - cut),
            undefined,
            skip,
            maxSize,
          );
          break;
        } catch (retryError) {
          if (retryError instanceof TooBig) throw tooBig(maxSize);
        }
      }
      if (output === undefined) {
        throw new WebSocketError("WS_ERR_INVALID_COMPRESSED_DATA", "Invalid compressed data", {
          closeCode: 1007,
          rule: "RFC 7692 §7.2.2",
          cause: error,
        });
      }
    }
    if (!this.#peerReset && !this.#disposed) this.#window = slideWindow(window, output);
    return output;
  }

  async #compress(data: Uint8Array): Promise<Uint8Array> {
    // An empty stored block: "" in a form every inflater takes (RFC 7692 §7.2.3.6).
    if (data.length === 0) return EMPTY_MESSAGE;
    if (this.#flushPerWrite) {
      const compressor = this.#persistent && !this.#disposed
        ? this.#compressor ??= openCompressor()
        : openCompressor();
      try {
        // detectDeflateFlush() verified that a write of up to FLUSH_SLICE
        // bytes comes out as one chunk ending in the sync-flush marker.
        const parts: Uint8Array[] = [];
        let size = 0;
        for (let at = 0; at < data.length; at += FLUSH_SLICE) {
          const slice = data.subarray(at, at + FLUSH_SLICE) as Uint8Array<ArrayBuffer>;
          compressor.writer.write(slice).catch(() => {});
          for (;;) {
            const { value, done } = await compressor.reader.read();
            if (done) throw new Error("Compressor ended early");
            parts.push(value);
            size += value.length;
            if (endsWithMarker(value)) break;
          }
        }
        const joined = parts.length === 1 ? parts[0] : concat(parts, size);
        // RFC 7692 §7.2.1: strip the 00 00 ff ff of the sync flush.
        return joined.subarray(0, joined.length - 4);
      } catch (error) {
        if (compressor === this.#compressor) this.#compressor = undefined;
        compressor.writer.abort().catch(() => {});
        throw error;
      } finally {
        if (compressor !== this.#compressor) {
          compressor.reader.cancel().catch(() => {});
          compressor.writer.abort().catch(() => {});
        }
      }
    }
    // No per-write flush: a whole DEFLATE stream per message, ending in a
    // final block, then 0x00 as in RFC 7692 §7.2.3.4.
    const stream = new CompressionStream("deflate-raw");
    const writer = stream.writable.getWriter();
    writer.write(data as Uint8Array<ArrayBuffer>).catch(() => {});
    writer.close().catch(() => {});
    const parts: Uint8Array[] = [];
    let size = 0;
    const reader = stream.readable.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
    parts.push(EMPTY_MESSAGE);
    return concat(parts, size + 1);
  }
}

function tooBig(maxSize: number): WebSocketError {
  return new WebSocketError(
    "WS_ERR_MESSAGE_TOO_BIG",
    `Message too big: over ${maxSize} bytes once inflated`,
    { closeCode: 1009, rule: "RFC 6455 §7.4.1" },
  );
}

function openCompressor(): {
  writer: WritableStreamDefaultWriter<BufferSource>;
  reader: ReadableStreamDefaultReader<Uint8Array>;
} {
  const stream = new CompressionStream("deflate-raw");
  return { writer: stream.writable.getWriter(), reader: stream.readable.getReader() };
}

/** A non-final stored DEFLATE block holding `data` (≤ 65535 bytes), RFC 1951 §3.2.4. */
function storedBlock(data: Uint8Array): Uint8Array {
  const n = data.length;
  const block = new Uint8Array(5 + n);
  // BFINAL=0, BTYPE=00, then padding to the byte boundary: one 0x00 octet.
  block[1] = n & 0xff;
  block[2] = n >>> 8;
  block[3] = ~n & 0xff;
  block[4] = (~n >>> 8) & 0xff;
  block.set(data, 5);
  return block;
}

/** The last 32 KiB of `window` followed by `output`, copied (never a view of `output`). */
function slideWindow(window: Uint8Array | undefined, output: Uint8Array): Uint8Array {
  if (output.length >= WINDOW) return output.slice(output.length - WINDOW);
  const keep = Math.min(window?.length ?? 0, WINDOW - output.length);
  const next = new Uint8Array(keep + output.length);
  if (keep > 0) next.set(window!.subarray(window!.length - keep));
  next.set(output, keep);
  return next;
}

/**
 * Runs one fresh inflater over `prefix + payload + tail`, closes it and
 * returns the output after the first `skip` bytes. Fails with `TooBig` as
 * soon as the output passes `maxSize`; the payload is fed in slices small
 * enough that at most about one slice's expansion is produced past it.
 */
async function inflateRun(
  prefix: Uint8Array | undefined,
  payload: Uint8Array,
  tail: Uint8Array | undefined,
  skip: number,
  maxSize: number,
): Promise<Uint8Array> {
  const stream = new DecompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  let produced = 0;
  let stop = false;
  const writing = (async () => {
    if (prefix) await writer.write(prefix as Uint8Array<ArrayBuffer>);
    let at = 0;
    while (at < payload.length && !stop) {
      const budget = Math.max(0, maxSize - produced);
      const slice = Math.min(65536, Math.max(1024, Math.floor(budget / MAX_RATIO)));
      const end = Math.min(payload.length, at + slice);
      await writer.ready;
      await writer.write(payload.subarray(at, end) as Uint8Array<ArrayBuffer>);
      at = end;
    }
    if (tail && !stop) await writer.write(tail as Uint8Array<ArrayBuffer>);
    if (!stop) await writer.close();
  })();
  const parts: Uint8Array[] = [];
  let toSkip = skip;
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      let chunk = value;
      if (toSkip > 0) {
        const n = Math.min(toSkip, chunk.length);
        toSkip -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) continue;
      }
      produced += chunk.length;
      if (produced > maxSize) throw new TooBig();
      parts.push(chunk);
    }
  })();
  try {
    await Promise.all([writing, reading]);
  } catch (error) {
    stop = true;
    writing.catch(() => {});
    reading.catch(() => {});
    reader.cancel().catch(() => {});
    writer.abort().catch(() => {});
    throw error;
  }
  if (toSkip > 0) throw new Error("Inflated less than the window");
  return parts.length === 1 ? parts[0] : concat(parts, produced);
}
