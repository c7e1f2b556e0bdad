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
