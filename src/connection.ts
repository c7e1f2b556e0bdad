/**
 * Binds one protocol engine to one byte duplex: the read loop (which pauses
 * when the application stops reading), the batched write path, and the
 * closing handshake's timers.
 *
 * @module
 */

import { encodeClosePayload } from "./close.ts";
import type { PerMessageDeflate } from "./deflate.ts";
import {
  type CloseInfo,
  DEFAULT_LIMITS,
  type EngineHandler,
  ReadyState,
  releaseOutput,
  WebSocketEngine,
} from "./engine.ts";
import { WebSocketError } from "./errors.ts";
import { ceilPow2, keepable } from "./_bytes.ts";
import { LazyPromise, withResolvers } from "./_promise.ts";
import type { SendOptions, SocketCapabilities, SocketDriver, SocketEvents } from "./socket.ts";

/** A bidirectional byte stream: a TCP socket, a TLS stream, an in-memory pipe. */
export interface ByteDuplex {
  /** Bytes from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  writable: WritableStream<Uint8Array>;
  /**
   * Optional direct read, shaped like `Deno.Conn.read`: fills the start of
   * `buffer` and resolves with the count, or `null` at the end of the stream.
   * When present the socket reads frames through it (into buffers sized to
   * the traffic, large payloads straight into their message buffer) instead
   * of through `readable`, which then only serves bytes read before (e.g. the
   * HTTP head) and `cancel()` at close. It must not be called while a read
   * from `readable` is pending.
   */
  readInto?: (buffer: Uint8Array) => Promise<number | null>;
  /**
   * Optional calls that bypass the streams. A transport that offers them can
   * build `readable` and `writable` only on demand (as views over the same
   * calls): an idle socket then holds no web streams at all.
   */
  direct?: DirectTransport;
}

/** A transport's own calls, used instead of {@linkcode ByteDuplex}'s streams when offered. */
export interface DirectTransport {
  /** The next chunk from the peer, or `null` at the end. */
  read(): Promise<Uint8Array | null>;
  /**
   * Optional push mode, for a runtime that delivers bytes by events (e.g.
   * node:net's `"data"`): from this call on, every chunk goes to
   * `receiver.data` as it arrives, chunks already buffered first, and the end
   * of the stream (or a failure) to `receiver.end`, once; `read()` is not
   * called any more. Saves a promise per chunk and keeps an idle socket free
   * of pending reads. Offered together with `pause` and `resume`.
   */
  listen?(receiver: DirectReceiver): void;
  /** Push mode: no `receiver.data` calls until `resume()` (backpressure). */
  pause?(): void;
  /** Push mode: deliver again, buffered chunks first (not from within this call). */
  resume?(): void;
  /**
   * Writes the whole chunk, after every chunk given before (callers do not
   * wait for one write before the next); resolves once the transport no
   * longer refers to it (it was handed to the OS or copied): the caller may
   * then reuse it.
   */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Optional: writes several chunks, in order, after every chunk given
   * before, as one gathered write where the OS allows it (`writev`);
   * resolves once the transport refers to none of them. A frame written
   * from its sender's own memory comes as its header and its payload.
   */
  writeMany?(chunks: Uint8Array[]): Promise<void>;
  /** Ends our side (FIN) once everything written is flushed. */
  end(): Promise<void>;
  /** Drops the connection at once, both ways. */
  destroy(): void;
}

/** Where a {@linkcode DirectTransport} in push mode delivers. */
export interface DirectReceiver {
  /** The next chunk from the peer; the receiver owns it. */
  data(chunk: Uint8Array): void;
  /** The end of the stream: `error` when it failed. Called once. */
  end(error?: unknown): void;
}

/** The write half of {@linkcode DirectTransport}, which a stream writer can offer too. */
type Sink = Pick<DirectTransport, "write" | "writeMany" | "end"> & {
  destroy(): void | Promise<void>;
};

/**
 * A pull-only `ReadableStream` over {@linkcode DirectTransport.read}, for a
 * transport that builds its `readable` from its direct calls: it reads only
 * when asked, so direct reads and stream reads can share the transport.
 *
 * @param direct The transport's calls.
 * @returns The stream; `cancel()` destroys the transport.
 */
export function readableOf(direct: DirectTransport): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      const chunk = await direct.read();
      if (chunk === null) controller.close();
      else controller.enqueue(chunk);
    },
    cancel: () => direct.destroy(),
  }, { highWaterMark: 0 });
}

/**
 * A `WritableStream` over {@linkcode DirectTransport}'s write calls, so that
 * stream writes and direct writes share one ordered queue.
 *
 * @param direct The transport's calls.
 * @returns The stream: `close()` ends, `abort()` destroys the transport.
 */
export function writableOf(direct: DirectTransport): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write: (chunk) => direct.write(chunk),
    close: () => direct.end(),
    abort: () => direct.destroy(),
  });
}

/** Limits and timeouts for codec-backed connections. */
export interface ConnectionOptions {
  /** Largest frame payload accepted, in bytes. Default 16 MiB. */
  maxFrameSize?: number;
  /** Largest message accepted, in bytes. Default 16 MiB. */
  maxMessageSize?: number;
  /** Most frames per message. Default 1024. */
  maxFragments?: number;
  /** Ms to wait for the peer's Close (and, for clients, the TCP close) before dropping. Default 5000. */
  closeTimeout?: number;
  /** Fills a buffer with random bytes, for masking keys. Default `crypto.getRandomValues`. */
  random?: (bytes: Uint8Array) => void;
  /**
   * Receive unfragmented, uncompressed binary messages of 16 KiB and more into
   * buffers that are reused once the message handlers return, instead of a
   * fresh buffer per message: `event.data` (with `binaryType` `"uint8array"`)
   * is then valid only until the `message` listeners and `onmessage` return,
   * and a handler that keeps the bytes must copy them (`send()` copies), or
   * send them on with `transfer` (the buffer then returns to the pool once
   * written; from 64 KiB it goes out from that memory, header included, with no
   * copy, except on Bun). After that the buffer is detached: a view kept by
   * mistake reads as empty. With `"arraybuffer"` or `"blob"`, and through
   * `readable` or `for await`, messages are copies, valid for good. Saves an
   * allocation per large message, and with it much of the garbage collection a
   * large-message server does. Codec-backed sockets only. Default `false`.
   */
  reuseMessageBuffers?: boolean;
}

/** How the opening handshake ended, for {@linkcode createCodecDriver}. */
export interface CodecDriverInit extends ConnectionOptions {
  /** Our side of the connection. */
  role: "client" | "server";
}

/** What every codec-backed socket can do: everything. */
export const CODEC_CAPABILITIES: SocketCapabilities = Object.freeze({
  ping: true,
  backpressure: true,
  compression: true,
  anyCloseCode: true,
});

const noop = (): void => {};
/** Direct reads start at this size (an idle socket pins one such buffer) ... */
const READ_MIN = 4 * 1024;
/** ... and double while reads fill them, up to this. */
const READ_MAX = 64 * 1024;
/** A frame still missing this many payload bytes is read straight into its payload buffer. */
const DIRECT_READ_MIN = 16 * 1024;
/** The longest frame header: 2 bytes, a 64-bit length, a masking key (RFC 6455 §5.2). */
const MAX_HEADER_SIZE = 14;
const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The driver behind every codec-backed socket: this library frames the bytes.
 * Call `open(protocol, extensions)` on the result once the handshake is done.
 */
export class CodecDriver implements SocketDriver {
  readonly capabilities: SocketCapabilities = CODEC_CAPABILITIES;
  #events: SocketEvents;
  #engine: WebSocketEngine;
  #duplex: ByteDuplex | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** Where frames go: `#direct`, or a sink over `#writer` (made on first write). */
  #sink: Sink | undefined;
  #server: boolean;
  #head: Uint8Array | undefined;
  /** Writes go through these calls, not through `writable`. */
  #direct: DirectTransport | undefined;
  #closeTimeout: number;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #reading = true;
  #resume: (() => void) | undefined;
  /** The transport in push mode ({@linkcode DirectTransport.listen}), and whether it is paused. */
  #pushing: DirectTransport | undefined;
  #paused = false;
  /** The engine's and the push-mode transport's callbacks. */
  #hooks: EngineHandler & DirectReceiver;
  #inflight = 0;
  #flushScheduled = false;
  #batch: PromiseWithResolvers<void> | undefined;
  #closeInfo: CloseInfo | undefined;
  /** Settles when reading ended; made once a client starts reading. */
  #readDone: LazyPromise<void> | undefined;
  #released = false;
  /** Reading starts on the next macrotask after `open` (after the `open` event). */
  #readStart: ReturnType<typeof setTimeout> | undefined;
  #abortive = false;
  // permessage-deflate (RFC 7692), when negotiated.
  #deflate: PerMessageDeflate | undefined;
  #maxMessageSize: number;
  /** Received messages waiting behind an inflating one, in arrival order. */
  #inbox: Promise<void> | undefined;
  #inboxCount = 0;
  #inboxDropped = false;
  /** Sends waiting behind a compressing one, in call order. */
  #outbox: Promise<void> | undefined;
  #outboxCount = 0;
  #compressing = 0;

  /**
   * Creates the driver; nothing is read until {@linkcode CodecDriver.open}.
   *
   * @param init Role and limits.
   * @param events The socket's hooks.
   */
  constructor(init: CodecDriverInit, events: SocketEvents) {
    this.#events = events;
    this.#server = init.role === "server";
    this.#closeTimeout = init.closeTimeout ?? 5000;
    this.#maxMessageSize = init.maxMessageSize ?? DEFAULT_LIMITS.maxMessageSize;
    this.#hooks = new CodecDriver.#Hooks(this);
    this.#engine = new WebSocketEngine({
      role: init.role,
      maxFrameSize: init.maxFrameSize,
      maxMessageSize: init.maxMessageSize,
      maxFragments: init.maxFragments,
      random: init.random,
      connecting: true,
      reuseMessageBuffers: init.reuseMessageBuffers,
    }, this.#hooks);
  }

  /**
   * The engine's and the push-mode transport's callbacks, as methods of one
   * small object: closures would cost ~60 B each per socket.
   */
  static readonly #Hooks = class implements EngineHandler, DirectReceiver {
    #driver: CodecDriver;
    constructor(driver: CodecDriver) {
      this.#driver = driver;
    }
    text(data: string): void {
      this.#driver.#received(data);
    }
    binary(data: Uint8Array, borrowed?: boolean): void {
      this.#driver.#received(data, borrowed);
    }
    compressed(opcode: 1 | 2, data: Uint8Array): void {
      this.#driver.#inflate(opcode, data);
    }
    pong(data: Uint8Array): void {
      this.#driver.#events.pong(data);
    }
    error(error: WebSocketError): void {
      // WHATWG WebSockets: no message events after a failure.
      this.#driver.#inboxDropped = true;
      this.#driver.#events.error(error);
    }
    close(info: CloseInfo): void {
      this.#driver.#onEngineClose(info);
    }
    data(chunk: Uint8Array): void {
      this.#driver.#pushed(chunk);
    }
    end(): void {
      this.#driver.#readEnded();
    }
  };

  #received(data: string | Uint8Array, borrowed?: boolean): void {
    if (this.#inbox === undefined) this.#events.message(data, borrowed);
    // Delivered later: a borrowed buffer is the engine's again by then.
    else this.#enqueue(keepable(data, borrowed));
  }

  /** Bytes queued or being written. */
  get bufferedAmount(): number {
    return this.#engine.bufferedAmount + this.#inflight + this.#compressing;
  }

  /**
   * Gives the driver its transport (possibly after a dial and an HTTP
   * exchange that already acquired the reader and writer).
   *
   * @param duplex The transport.
   * @param reader An already acquired reader of `duplex.readable`.
   * @param writer An already acquired writer of `duplex.writable`.
   * @param head Bytes read past the HTTP head; they belong to the frame stream.
   */
  attach(
    duplex: ByteDuplex,
    reader?: ReadableStreamDefaultReader<Uint8Array>,
    writer?: WritableStreamDefaultWriter<Uint8Array>,
    head?: Uint8Array,
  ): void {
    this.#duplex = duplex;
    this.#reader = reader;
    this.#writer = writer;
    this.#direct = writer === undefined ? duplex.direct : undefined;
    // A direct write is done with its bytes when it resolves: output buffers can be reused.
    if (this.#direct !== undefined) this.#engine.poolOutput();
    // An empty view still pins its whole read buffer (up to 64 KiB) for the socket's life.
    this.#head = head !== undefined && head.length > 0 ? head : undefined;
  }

  /**
   * Writes bytes that go before every frame (the HTTP 101 response). Not
   * awaited: frames queue behind them; a failed write shows up as a lost
   * connection on the next one.
   *
   * @param bytes The bytes.
   */
  writePreamble(bytes: Uint8Array): void {
    this.#output().write(bytes).catch(noop);
  }

  /** The direct calls, or the same three calls over a writer of `writable`. */
  #output(): Sink {
    if (this.#sink !== undefined) return this.#sink;
    if (this.#direct !== undefined) return this.#sink = this.#direct;
    const writer = this.#writer ??= this.#duplex!.writable.getWriter();
    return this.#sink = {
      write: (chunk) => writer.write(chunk),
      end: () => writer.close(),
      destroy: () => writer.abort().catch(noop),
    };
  }

  /**
   * Starts framing after a successful opening handshake. Reading starts on
   * the next macrotask, so the code that received the socket can attach its
   * listeners first.
   *
   * @param protocol The negotiated subprotocol.
   * @param extensions The negotiated extensions.
   * @param deflate The connection's permessage-deflate state, when negotiated.
   */
  open(protocol: string, extensions: string, deflate?: PerMessageDeflate): void {
    if (deflate !== undefined && this.#engine.state === ReadyState.CONNECTING) {
      this.#deflate = deflate;
      // RFC 7692 §6: RSV1 now marks compressed messages.
      this.#engine.open({ compression: true });
    } else this.#engine.open();
    this.#events.open(protocol, extensions);
    // Only a client waits for the end of reading (see #release).
    if (!this.#server) this.#readDone = new LazyPromise<void>();
    this.#readStart = setTimeout(() => {
      this.#readStart = undefined;
      const duplex = this.#duplex!;
      const direct = duplex.direct;
      if (duplex.readInto === undefined && this.#reader === undefined && direct?.listen) {
        this.#receiveHead();
        this.#pushing = direct;
        this.#updateFlow();
        direct.listen(this.#hooks);
      } else this.#readLoop();
    }, 0);
  }

  /**
   * Fails before opening (the handshake failed): releases the transport and
   * reports the error and a 1006 close.
   *
   * @param error Why.
   */
  failHandshake(error: WebSocketError): void {
    this.#engine.abort(error);
  }

  send(data: string | Uint8Array, options: SendOptions): Promise<void> {
    const deflate = this.#deflate;
    if (
      deflate !== undefined &&
      (this.#outbox !== undefined ||
        (options.compress !== false && deflate.canCompress && data.length >= deflate.threshold))
    ) return this.#sendDeflated(deflate, data, options);
    try {
      if (typeof data === "string") this.#engine.sendText(data);
      else this.#engine.sendBinary(data, options.transfer === true);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#scheduleFlush();
  }

  ping(payload: Uint8Array): void {
    this.#engine.ping(payload);
    this.#scheduleFlush();
  }

  close(closeCode: number | undefined, reason: string): void {
    if (this.#outbox !== undefined && this.#engine.state === ReadyState.OPEN) {
      // The Close goes after the messages still being compressed (RFC 6455 §5.5.1).
      encodeClosePayload(closeCode, reason); // throws now, as engine.close would
      this.#outbox.then(() => this.#closeNow(closeCode, reason));
      return;
    }
    this.#closeNow(closeCode, reason);
  }

  #closeNow(closeCode: number | undefined, reason: string): void {
    const engine = this.#engine;
    if (engine.state === ReadyState.CONNECTING) {
      engine.abort(new WebSocketError("WS_ERR_ABORTED", "Closed before the handshake completed"));
      return;
    }
    engine.close(closeCode, reason);
    if (engine.state === ReadyState.CLOSING) {
      this.#scheduleFlush();
      // RFC 6455 §7.1.2: a paused reader (the application stopped reading
      // messages) would never see the peer's Close: resume.
      this.setReading(true);
      // RFC 6455 §7.1.2: wait a bounded time for the peer's Close.
      this.#closeTimer ??= setTimeout(() => {
        engine.abort(
          new WebSocketError("WS_ERR_CLOSE_TIMEOUT", "No Close frame from the peer in time", {
            closeCode: 1006,
          }),
        );
      }, this.#closeTimeout);
    }
  }

  setReading(reading: boolean): void {
    this.#reading = reading;
    if (this.#pushing !== undefined) this.#updateFlow();
    else if (reading && this.#resume) {
      this.#resume();
      this.#resume = undefined;
    }
  }

  terminate(error?: WebSocketError): void {
    this.#abortive = true;
    this.#engine.abort(error);
  }

  async #readLoop(): Promise<void> {
    const duplex = this.#duplex!;
    const read = duplex.readInto !== undefined
      ? this.#directReads(duplex.readInto)
      : this.#reader === undefined && duplex.direct !== undefined
      ? this.#chunkReads(duplex.direct)
      : this.#streamReads(this.#reader ??= duplex.readable.getReader());
    try {
      this.#receiveHead();
      while (true) {
        if (this.#heldByApplication()) {
          await new Promise<void>((resolve) => this.#resume = resolve);
        }
        if (!await read()) break;
        this.#flush();
        // Read no further while messages are inflating: backpressure.
        if (this.#inbox !== undefined) await this.#inbox;
      }
    } catch {
      // A read error is a lost connection, handled below.
    }
    this.#readEnded();
  }

  /** Push mode: a chunk from the transport. */
  #pushed(chunk: Uint8Array): void {
    this.#engine.receive(chunk);
    this.#flush();
    this.#updateFlow();
  }

  /** The transport ended or failed (either mode): without the peer's Close, the connection is lost. */
  #readEnded(): void {
    this.#pushing = undefined;
    this.#engine.abort(
      new WebSocketError("WS_ERR_CONNECTION_LOST", "Connection closed without a Close frame", {
        closeCode: 1006,
      }),
    );
    this.#readDone?.resolve();
  }

  /**
   * Push mode: pauses the transport while messages inflate or the application
   * stopped reading, as the read loop waits in pull mode.
   */
  #updateFlow(): void {
    const pushing = this.#pushing;
    if (pushing === undefined) return;
    const hold = this.#inbox !== undefined || this.#heldByApplication();
    if (hold === this.#paused) return;
    this.#paused = hold;
    if (hold) pushing.pause!();
    else pushing.resume!();
  }

  /**
   * Whether the application stopped reading messages. Once our Close is out,
   * reading goes on regardless: the peer's Close must get through.
   */
  #heldByApplication(): boolean {
    const engine = this.#engine;
    return !this.#reading && !engine.closeSent && engine.state !== ReadyState.CLOSED;
  }

  #receiveHead(): void {
    const head = this.#head;
    if (head === undefined) return;
    this.#head = undefined;
    this.#engine.receive(head);
    this.#flush();
  }

  /** One read from `readable` into the engine; `false` at the end of the stream. */
  #streamReads(reader: ReadableStreamDefaultReader<Uint8Array>): () => Promise<boolean> {
    const engine = this.#engine;
    return async () => {
      const { value, done } = await reader.read();
      if (done) return false;
      engine.receive(value);
      return true;
    };
  }

  /** One read through {@linkcode DirectTransport.read} into the engine; `false` at the end. */
  #chunkReads(direct: DirectTransport): () => Promise<boolean> {
    const engine = this.#engine;
    return async () => {
      const chunk = await direct.read();
      if (chunk === null) return false;
      engine.receive(chunk);
      return true;
    };
  }

  /**
   * One read through {@linkcode ByteDuplex.readInto}: every read gets a
   * fresh buffer (the engine owns what it receives and may hand out views),
   * sized by the previous read so an idle socket pins only `READ_MIN` bytes
   * while a busy one reads up to `READ_MAX` per call; large payloads are read
   * straight into their message buffer, with no copy. `false` at the end.
   */
  #directReads(readInto: (buffer: Uint8Array) => Promise<number | null>): () => Promise<boolean> {
    const engine = this.#engine;
    let size = READ_MIN;
    return async () => {
      const direct = engine.readBuffer(DIRECT_READ_MIN);
      if (direct !== undefined) {
        const n = await readInto(direct);
        if (n === null) return false;
        engine.commitRead(n);
        return true;
      }
      // After a large frame, read just the next header: a large payload
      // behind it is then read straight into its buffer, not copied out
      // of a read that ended a few bytes short of it.
      const header = engine.atLargeFrameBoundary(DIRECT_READ_MIN);
      const buffer = new Uint8Array(header ? MAX_HEADER_SIZE : size);
      const n = await readInto(buffer);
      if (n === null) return false;
      // A full buffer: more is waiting, read more at once. Otherwise the
      // socket was drained: shrink towards what came, at most by half per
      // read (bursty traffic must not fall back to many small reads).
      if (!header) {
        size = n === size
          ? Math.min(size * 4, READ_MAX)
          : Math.max(size >> 1, Math.min(ceilPow2(n * 2), size), READ_MIN);
      }
      engine.receive(n === buffer.length ? buffer : buffer.subarray(0, n));
      return true;
    };
  }

  #scheduleFlush(): Promise<void> {
    const batch = this.#batch ??= withResolvers<void>();
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return batch.promise;
  }

  /** Writes everything the engine queued, as few writes as possible. */
  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#batch;
    this.#batch = undefined;
    const out = this.#engine.takeOutput();
    if (out.length === 0 || this.#released) {
      if (batch) {
        if (this.#released) {
          batch.reject(new WebSocketError("WS_ERR_NOT_OPEN", "WebSocket is closed"));
        } else batch.resolve();
      }
      return;
    }
    const sink = this.#output();
    let last: Promise<void> | undefined;
    if (out.length > 1 && sink.writeMany !== undefined) {
      let size = 0;
      for (const chunk of out) size += chunk.length;
      this.#inflight += size;
      last = sink.writeMany(out).then(() => {
        this.#inflight -= size;
        for (const chunk of out) releaseOutput(chunk);
      });
    } else {
      for (const chunk of out) {
        const size = chunk.length;
        this.#inflight += size;
        // Only the last write's failure is handled below; a reset peer must
        // not leave the earlier ones as unhandled rejections (they kill Deno).
        last?.catch(noop);
        last = sink.write(chunk).then(() => {
          this.#inflight -= size;
          // Back to the pool (a no-op for a chunk the pool did not make).
          releaseOutput(chunk);
        });
      }
    }
    last!.then(() => batch?.resolve(), (cause) => {
      const error = new WebSocketError("WS_ERR_CONNECTION_LOST", "Write to the transport failed", {
        closeCode: 1006,
        cause,
      });
      batch?.reject(error);
      this.#engine.abort(error);
    });
  }

  /** Queues a received message behind those still inflating. */
  #enqueue(message: string | Uint8Array | (() => Promise<void>)): void {
    this.#inboxCount++;
    this.#inbox = (this.#inbox ?? Promise.resolve()).then(async () => {
      if (!this.#inboxDropped) {
        if (typeof message === "function") await message();
        else this.#events.message(message);
      }
      if (--this.#inboxCount === 0) {
        this.#inbox = undefined;
        this.#updateFlow();
      }
    });
  }

  /** RFC 7692 §7.2.2: inflates a compressed message, keeping arrival order. */
  #inflate(opcode: number, data: Uint8Array): void {
    const deflate = this.#deflate!;
    // The engine may hand over a view of its read buffer: keep a copy.
    const payload = data.slice();
    this.#enqueue(async () => {
      try {
        const bytes = await deflate.inflate(payload, this.#maxMessageSize);
        if (this.#inboxDropped) return;
        let message: string | Uint8Array = bytes;
        if (opcode === 1) {
          try {
            message = strictUtf8.decode(bytes);
          } catch (cause) {
            throw new WebSocketError("WS_ERR_INVALID_UTF8", "Invalid UTF-8 in text message", {
              closeCode: 1007,
              rule: "RFC 6455 §8.1",
              cause,
            });
          }
        }
        this.#events.message(message);
      } catch (error) {
        this.#engine.fail(
          error instanceof WebSocketError ? error : new WebSocketError(
            "WS_ERR_INTERNAL",
            "Internal error while inflating",
            { closeCode: 1011, cause: error },
          ),
        );
        this.#flush();
      }
    });
  }

  /** Sends through permessage-deflate, after any send still compressing (RFC 7692 §7.2.1). */
  #sendDeflated(
    deflate: PerMessageDeflate,
    data: string | Uint8Array,
    options: SendOptions,
  ): Promise<void> {
    const text = typeof data === "string";
    // Compression is asynchronous: snapshot the caller's bytes now, unless
    // they were transferred. Either way `bytes` is ours.
    const bytes = text ? encoder.encode(data) : options.transfer ? data : data.slice();
    const compress = options.compress !== false && deflate.canCompress &&
      bytes.length >= deflate.threshold;
    const size = bytes.length;
    this.#compressing += size;
    this.#outboxCount++;
    const sent = (this.#outbox ?? Promise.resolve()).then(async () => {
      try {
        const payload = compress ? await deflate.compress(bytes) : undefined;
        if (payload !== undefined) {
          this.#engine.sendFrame(text ? 1 : 2, payload, { rsv1: true });
          // Compressed: a transferred buffer the pool lent can serve the next message.
          releaseOutput(bytes);
        } else this.#engine.sendFrame(text ? 1 : 2, bytes, { owned: true });
      } finally {
        this.#compressing -= size;
      }
      return this.#scheduleFlush();
    });
    const settled = sent.then(noop, (error) => {
      if (!(error instanceof WebSocketError)) {
        this.#engine.fail(
          new WebSocketError("WS_ERR_INTERNAL", "Internal error while compressing", {
            closeCode: 1011,
            cause: error,
          }),
        );
        this.#flush();
      }
    });
    this.#outbox = settled.then(() => {
      if (--this.#outboxCount === 0) this.#outbox = undefined;
    });
    return sent;
  }

  #onEngineClose(info: CloseInfo): void {
    this.#closeInfo = info;
    clearTimeout(this.#closeTimer);
    // Nothing can be sent any more: readyState is CLOSING until the transport is released.
    this.#events.closing?.();
    // Runs after the current receive() and its flush.
    queueMicrotask(() => this.#release());
  }

  async #release(): Promise<void> {
    if (this.#released) return;
    this.#flush();
    this.#released = true;
    // Released before reading began (terminated at once): never start.
    clearTimeout(this.#readStart);
    const info = this.#closeInfo!;
    if (!this.#server && info.wasClean && this.#readDone) {
      // RFC 6455 §7.1.1: the server closes TCP first; a client waits a bounded time.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#readDone.promise,
        new Promise<void>((resolve) => timer = setTimeout(resolve, this.#closeTimeout)),
      ]);
      clearTimeout(timer);
    }
    await this.#closeTransport();
    this.#resume?.();
    // Messages that arrived before the Close are delivered first.
    if (this.#inbox !== undefined) await this.#inbox;
    this.#deflate?.dispose();
    this.#events.close(info);
  }

  /** Flushes what is queued (a Close frame, usually), then closes; drops at once when terminated. */
  async #closeTransport(): Promise<void> {
    const duplex = this.#duplex;
    if (!duplex) return;
    const sink = this.#output();
    let closedInTime = false;
    if (!this.#abortive) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      // A peer that stops reading must not hold the close forever.
      closedInTime = await Promise.race([
        sink.end().then(() => true, () => true),
        new Promise<boolean>((resolve) =>
          timer = setTimeout(() => resolve(false), this.#closeTimeout)
        ),
      ]);
      clearTimeout(timer);
    }
    if (!closedInTime) await sink.destroy();
    if (this.#reader === undefined && duplex.direct !== undefined) duplex.direct.destroy();
    else await (this.#reader ??= duplex.readable.getReader()).cancel().catch(noop);
  }
}
