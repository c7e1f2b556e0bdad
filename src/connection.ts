/**
 * Binds one protocol engine to one byte duplex: the read loop (which pauses
 * when the application stops reading), the batched write path, and the
 * closing handshake's timers.
 *
 * @module
 */

import { type CloseInfo, type EngineOptions, ReadyState, WebSocketEngine } from "./engine.ts";
import { WebSocketError } from "./errors.ts";
import { withResolvers } from "./_promise.ts";
import type { SendOptions, SocketCapabilities, SocketDriver, SocketEvents } from "./socket.ts";

/** A bidirectional byte stream: a TCP socket, a TLS stream, an in-memory pipe. */
export interface ByteDuplex {
  /** Bytes from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  writable: WritableStream<Uint8Array>;
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
}

/** How the opening handshake ended, for {@linkcode createCodecDriver}. */
export interface CodecDriverInit extends ConnectionOptions {
  /** Our side of the connection. */
  role: "client" | "server";
}

const CAPABILITIES: SocketCapabilities = Object.freeze({
  ping: true,
  backpressure: true,
  compression: false,
  anyCloseCode: true,
});

const noop = (): void => {};

/**
 * The driver behind every codec-backed socket: this library frames the bytes.
 * Call `open(protocol, extensions)` on the result once the handshake is done.
 */
export class CodecDriver implements SocketDriver {
  readonly capabilities: SocketCapabilities = CAPABILITIES;
  #events: SocketEvents;
  #engine: WebSocketEngine;
  #duplex: ByteDuplex | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #server: boolean;
  #head: Uint8Array | undefined;
  #closeTimeout: number;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #reading = true;
  #resume: (() => void) | undefined;
  #inflight = 0;
  #flushScheduled = false;
  #batch: PromiseWithResolvers<void> | undefined;
  #closeInfo: CloseInfo | undefined;
  #readLoopDone: Promise<void> | undefined;
  #released = false;
  #abortive = false;

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
    const engineOptions: EngineOptions = {
      role: init.role,
      maxFrameSize: init.maxFrameSize,
      maxMessageSize: init.maxMessageSize,
      maxFragments: init.maxFragments,
      random: init.random,
      connecting: true,
    };
    this.#engine = new WebSocketEngine(engineOptions, {
      text: (data) => events.message(data),
      binary: (data) => events.message(data),
      pong: (data) => events.pong(data),
      error: (error) => events.error(error),
      close: (info) => this.#onEngineClose(info),
    });
  }

  /** Bytes queued or being written. */
  get bufferedAmount(): number {
    return this.#engine.bufferedAmount + this.#inflight;
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
    this.#head = head;
  }

  /**
   * Starts framing after a successful opening handshake. Reading starts on
   * the next macrotask, so the code that received the socket can attach its
   * listeners first.
   *
   * @param protocol The negotiated subprotocol.
   * @param extensions The negotiated extensions.
   */
  open(protocol: string, extensions: string): void {
    this.#engine.open();
    this.#events.open(protocol, extensions);
    const { promise, resolve } = withResolvers<void>();
    this.#readLoopDone = promise;
    setTimeout(() => this.#readLoop().then(resolve), 0);
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

  send(data: string | Uint8Array, _options: SendOptions): Promise<void> {
    try {
      if (typeof data === "string") this.#engine.sendText(data);
      else this.#engine.sendBinary(data);
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
    const engine = this.#engine;
    if (engine.state === ReadyState.CONNECTING) {
      engine.abort(new WebSocketError("WS_ERR_ABORTED", "Closed before the handshake completed"));
      return;
    }
    engine.close(closeCode, reason);
    if (engine.state === ReadyState.CLOSING) {
      this.#scheduleFlush();
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
    if (reading && this.#resume) {
      this.#resume();
      this.#resume = undefined;
    }
  }

  terminate(error?: WebSocketError): void {
    this.#abortive = true;
    this.#engine.abort(error);
  }

  async #readLoop(): Promise<void> {
    const reader = this.#reader ??= this.#duplex!.readable.getReader();
    const engine = this.#engine;
    try {
      if (this.#head && this.#head.length > 0) {
        engine.receive(this.#head);
        this.#head = undefined;
        this.#flush();
      }
      while (true) {
        if (!this.#reading && engine.state !== ReadyState.CLOSED) {
          await new Promise<void>((resolve) => this.#resume = resolve);
        }
        const { value, done } = await reader.read();
        if (done) break;
        engine.receive(value);
        this.#flush();
      }
    } catch {
      // A read error is a lost connection, handled below.
    }
    engine.abort(
      new WebSocketError("WS_ERR_CONNECTION_LOST", "Connection closed without a Close frame", {
        closeCode: 1006,
      }),
    );
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
    const writer = this.#writer ??= this.#duplex!.writable.getWriter();
    let last: Promise<void> | undefined;
    for (const chunk of out) {
      const size = chunk.length;
      this.#inflight += size;
      last = writer.write(chunk).then(() => {
        this.#inflight -= size;
      });
    }
    last!.then(() => batch?.resolve(), (error) => {
      batch?.reject(error);
      this.#engine.abort(
        new WebSocketError("WS_ERR_CONNECTION_LOST", "Write to the transport failed", {
          closeCode: 1006,
          cause: error,
        }),
      );
    });
  }

  #onEngineClose(info: CloseInfo): void {
    this.#closeInfo = info;
    clearTimeout(this.#closeTimer);
    // Runs after the current receive() and its flush.
    queueMicrotask(() => this.#release());
  }

  async #release(): Promise<void> {
    if (this.#released) return;
    this.#flush();
    this.#released = true;
    const info = this.#closeInfo!;
    if (!this.#server && info.wasClean && this.#readLoopDone) {
      // RFC 6455 §7.1.1: the server closes TCP first; a client waits a bounded time.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#readLoopDone,
        new Promise<void>((resolve) => timer = setTimeout(resolve, this.#closeTimeout)),
      ]);
      clearTimeout(timer);
    }
    await this.#closeTransport();
    this.#resume?.();
    this.#events.close(info);
  }

  /** Flushes what is queued (a Close frame, usually), then closes; drops at once when terminated. */
  async #closeTransport(): Promise<void> {
    const duplex = this.#duplex;
    if (!duplex) return;
    const writer = this.#writer ??= duplex.writable.getWriter();
    let closedInTime = false;
    if (!this.#abortive) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      // A peer that stops reading must not hold the close forever.
      closedInTime = await Promise.race([
        writer.close().then(() => true, () => true),
        new Promise<boolean>((resolve) =>
          timer = setTimeout(() => resolve(false), this.#closeTimeout)
        ),
      ]);
      clearTimeout(timer);
    }
    if (!closedInTime) await writer.abort().catch(noop);
    const reader = this.#reader ??= duplex.readable.getReader();
    await reader.cancel().catch(noop);
  }
}
