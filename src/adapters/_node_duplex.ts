/**
 * A small bridge from a Node stream socket (`net.Socket`, `tls.TLSSocket`, or
 * the `Duplex` node:http hands to `"upgrade"` listeners) to the
 * {@linkcode ByteDuplex} the codec runs on. It replaces `Duplex.toWeb`, which
 * adds a stream hop and a promise per chunk on Node 20 and behaves
 * differently on Bun and Deno's compatibility layers.
 *
 * The codec uses the duplex's {@linkcode DirectTransport} calls;
 * `readable` and `writable` are thin views over the same calls,
 * built only when asked for. Two web streams cost ~4–8 KiB per connection
 * on Node 20 and Deno, more than the rest of an idle socket.
 *
 * Backpressure both ways: the socket is paused while more than the high
 * water mark is queued unread, and resumed when reads drain it; a write
 * resolves on the socket's write callback, i.e. once Node has handed the
 * bytes to the kernel.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import {
  type ByteDuplex,
  type DirectReceiver,
  type DirectTransport,
  readableOf,
  writableOf,
} from "../connection.ts";

/** Options for {@linkcode nodeSocketToDuplex}. */
export interface NodeDuplexOptions {
  /** Bytes queued unread before the socket is paused. Default 64 KiB. */
  readableHighWaterMark?: number;
}

const CLOSED = "Socket is closed";

/**
 * Wraps a Node `Duplex` socket as a byte duplex. An `error` listener is
 * installed at once, so a reset connection (ECONNRESET) fails the pending
 * read and later writes instead of crashing the process.
 *
 * - `direct.destroy()`, `readable.cancel()` and `writable.abort()` destroy the socket.
 * - `direct.end()` and `writable.close()` end the socket (FIN) and resolve once flushed.
 *
 * @param socket The Node socket.
 * @param options Queue size before the socket is paused.
 * @returns The duplex.
 */
export function nodeSocketToDuplex(socket: Duplex, options: NodeDuplexOptions = {}): ByteDuplex {
  return new NodeSocketDuplex(socket, options.readableHighWaterMark ?? 64 * 1024);
}

/** One object is both the duplex and its direct calls. */
class NodeSocketDuplex implements ByteDuplex, DirectTransport {
  #socket: Duplex;
  #highWaterMark: number;
  /** Chunks received and not yet read, oldest first. */
  #queue: Uint8Array[] = [];
  #queued = 0;
  #waiting: { resolve(chunk: Uint8Array | null): void; reject(error: unknown): void } | undefined;
  #ended = false;
  #failure: Error | undefined;
  /** Push mode: where chunks go, whether paused, whether the end was delivered. */
  #receiver: DirectReceiver | undefined;
  #paused = false;
  #endDelivered = false;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  constructor(socket: Duplex, highWaterMark: number) {
    this.#socket = socket;
    this.#highWaterMark = highWaterMark;
    socket.on("error", (error: Error) => {
      this.#failure ??= error;
      this.#finish();
    });
    socket.on("data", (chunk: Uint8Array | string) => this.#push(chunk));
    socket.on("end", () => this.#finish());
    socket.on("close", () => this.#finish());
    if (socket.destroyed) this.#finish();
    // node:http leaves an upgraded socket neither flowing nor paused.
    else socket.resume();
  }

  #push(chunk: Uint8Array | string): void {
    if (this.#ended) return;
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    // A Buffer is a Uint8Array; re-view it so consumers see a plain Uint8Array.
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const receiver = this.#receiver;
    if (receiver !== undefined && !this.#paused && this.#queue.length === 0) {
      receiver.data(view);
      return;
    }
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting.resolve(view);
      return;
    }
    this.#queue.push(view);
    this.#queued += view.length;
    if (this.#queued >= this.#highWaterMark) this.#socket.pause();
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#receiver !== undefined) {
      if (!this.#paused && this.#queue.length === 0) this.#deliverEnd();
      return;
    }
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting === undefined) return;
    if (this.#failure) waiting.reject(this.#failure);
    else waiting.resolve(null);
  }

  get direct(): DirectTransport {
    return this;
  }

  listen(receiver: DirectReceiver): void {
    this.#receiver = receiver;
    if (this.#queue.length > 0 || this.#ended) queueMicrotask(() => this.#drain());
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    if (this.#queue.length > 0 || this.#ended) queueMicrotask(() => this.#drain());
    else if (this.#socket.isPaused()) this.#socket.resume();
  }

  /** Push mode: delivers what is queued, then the end if it came, while not paused. */
  #drain(): void {
    const receiver = this.#receiver!;
    const queue = this.#queue;
    while (!this.#paused && queue.length > 0) receiver.data(this.#take()!);
    if (this.#paused) return;
    if (this.#ended) this.#deliverEnd();
    else if (this.#socket.isPaused()) this.#socket.resume();
  }

  /** The oldest queued chunk; the socket flows again once the queue is below the mark. */
  #take(): Uint8Array | undefined {
    const chunk = this.#queue.shift();
    if (chunk === undefined) return undefined;
    this.#queued -= chunk.length;
    if (this.#queued < this.#highWaterMark && this.#socket.isPaused()) this.#socket.resume();
    return chunk;
  }

  #deliverEnd(): void {
    if (this.#endDelivered) return;
    this.#endDelivered = true;
    this.#receiver!.end(this.#failure);
  }

  read(): Promise<Uint8Array | null> {
    if (this.#waiting !== undefined) {
      return Promise.reject(new TypeError("A read is already pending"));
    }
    const chunk = this.#take();
    if (chunk !== undefined) return Promise.resolve(chunk);
    if (this.#ended) return this.#failure ? Promise.reject(this.#failure) : Promise.resolve(null);
    return new Promise((resolve, reject) => this.#waiting = { resolve, reject });
  }

  /** Why nothing can be written any more, as a rejection; `undefined` while writable. */
  #refusal(): Promise<never> | undefined {
    const socket = this.#socket;
    if (this.#failure) return Promise.reject(this.#failure);
    if (socket.destroyed || socket.writableEnded) return Promise.reject(new Error(CLOSED));
    return undefined;
  }

  write(chunk: Uint8Array): Promise<void> {
    const socket = this.#socket;
    const refused = this.#refusal();
    if (refused !== undefined) return refused;
    return new Promise<void>((resolve, reject) => {
      socket.write(chunk, (error?: Error | null) => error ? reject(error) : resolve());
    });
  }

  writeMany(chunks: Uint8Array[]): Promise<void> {
    const socket = this.#socket;
    const refused = this.#refusal();
    if (refused !== undefined) return refused;
    return new Promise<void>((resolve, reject) => {
      // Corked, the chunks leave in one writev when uncorked.
      socket.cork();
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) socket.write(chunks[i]);
      socket.write(chunks[last], (error?: Error | null) => error ? reject(error) : resolve());
      socket.uncork();
    });
  }

  end(): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableFinished) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off("finish", done);
        socket.off("close", done);
        resolve();
      };
      socket.on("finish", done);
      socket.on("close", done);
      socket.end();
    });
  }

  destroy(): void {
    this.#queue.length = 0;
    this.#queued = 0;
    // Nothing is left to wait for: the end goes out even while paused.
    this.#paused = false;
    this.#finish();
    this.#socket.destroy();
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= readableOf(this);
  }

  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= writableOf(this);
  }
}
