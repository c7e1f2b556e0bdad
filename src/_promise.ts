/**
 * A small equivalent of `Promise.withResolvers`, which Node 20 lacks (it
 * arrived in Node 22).
 *
 * @module
 */

/**
 * A promise with its `resolve` and `reject` functions.
 *
 * @returns The promise and its settlers.
 */
export function withResolvers<T>(): PromiseWithResolvers<T> {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * One already-resolved promise, shared: what a send that completed at once
 * returns, so the hot path allocates no promise per message. A caller that
 * gets it back needs no rejection handler.
 */
export const RESOLVED: Promise<void> = Promise.resolve();
