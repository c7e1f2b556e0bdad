/**
 * A small bridge from a Node stream socket (`net.Socket`, `tls.TLSSocket`, or
 * the `Duplex` node:http hands to `"upgrade"` listeners) to the web-streams
 * {@linkcode ByteDuplex} the codec runs on. It replaces `Duplex.toWeb`, which
 * adds a stream hop and a promise per chunk on Node 20 and behaves
 * differently on Bun and Deno's compatibility layers.
 *
 * Backpressure both ways: the readable pauses the socket when its queue is
 * full and resumes it on `pull`; a write resolves on the socket's write
 * callback, i.e. once Node has handed the bytes to the kernel.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import type { ByteDuplex } from "../connection.ts";

/** Options for {@linkcode nodeSocketToDuplex}. */
export interface NodeDuplexOptions {
  /** Bytes queued in the readable before the socket is paused. Default 64 KiB. */
  readableHighWaterMark?: number;
}

/**
 * Wraps a Node `Duplex` socket as a web-streams byte duplex. An `error`
 * listener is installed at once, so a reset connection (ECONNRESET) errors
 * the streams instead of crashing the process.
 *
 * - `readable.cancel()` and `writable.abort()` destroy the socket.
 * - `writable.close()` ends the socket (FIN) and resolves once flushed.
 *
 * @param socket The Node socket.
 * @param options Queue size of the readable.
 * @returns The duplex.
 */
export function nodeSocketToDuplex(socket: Duplex, options: NodeDuplexOptions = {}): ByteDuplex {
  const highWaterMark = options.readableHighWaterMark ?? 64 * 1024;
  let failure: Error | undefined;
  let readDone = false;
  socket.on("error", (error: Error) => {
    failure ??= error;
  });

  const readable = new ReadableStream<Uint8Array>({
    start(controller): void {
      const finish = (): void => {
        if (readDone) return;
        readDone = true;
        try {
          if (failure) controller.error(failure);
          else controller.close();
        } catch {
          // Already cancelled.
        }
      };
      socket.on("data", (chunk: Uint8Array | string) => {
        if (readDone) return;
        const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
        // A Buffer is a Uint8Array; re-view it so consumers see a plain Uint8Array.
        controller.enqueue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) socket.pause();
      });
      socket.on("end", finish);
      socket.on("close", finish);
      socket.on("error", finish);
      if (socket.destroyed) finish();
      // node:http leaves an upgraded socket neither flowing nor paused.
      else socket.resume();
    },
    pull(): void {
      if (socket.isPaused()) socket.resume();
    },
    cancel(): void {
      readDone = true;
      socket.destroy();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark }));

  const writable = new WritableStream<Uint8Array>({
    write(chunk): Promise<void> {
      if (failure) return Promise.reject(failure);
      if (socket.destroyed || socket.writableEnded) {
        return Promise.reject(new Error("Socket is closed"));
      }
      return new Promise<void>((resolve, reject) => {
        socket.write(chunk, (error?: Error | null) => error ? reject(error) : resolve());
      });
    },
    close(): Promise<void> {
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
    },
    abort(): void {
      socket.destroy();
    },
  });

  return { readable, writable };
}
