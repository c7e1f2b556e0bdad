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

/**
 * A promise built only when someone asks for it: settling one nobody asked
 * for allocates nothing (an idle socket holds two of these). Like a promise,
 * it settles once; its rejection never counts as unhandled.
 */
export class LazyPromise<T> {
  #promise: Promise<T> | undefined;
  #resolvers: PromiseWithResolvers<T> | undefined;
  #outcome: { value: T } | { error: unknown } | undefined;

  /** The promise (the same one on every call). */
  get promise(): Promise<T> {
    if (this.#promise !== undefined) return this.#promise;
    const outcome = this.#outcome;
    if (outcome === undefined) {
      this.#resolvers = withResolvers<T>();
      this.#promise = this.#resolvers.promise;
    } else {
      this.#promise = "value" in outcome
        ? Promise.resolve(outcome.value)
        : Promise.reject(outcome.error);
    }
    this.#promise.catch(() => {});
    return this.#promise;
  }

  /**
   * Fulfils the promise, unless already settled.
   *
   * @param value The value.
   */
  resolve(value: T): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = { value };
    this.#resolvers?.resolve(value);
    this.#resolvers = undefined;
  }

  /**
   * Rejects the promise, unless already settled.
   *
   * @param error The reason.
   */
  reject(error: unknown): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = { error };
    this.#resolvers?.reject(error);
    this.#resolvers = undefined;
  }
}
