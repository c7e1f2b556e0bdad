/**
 * Minimal assertions for the peer tests. `node:assert/strict` works at run
 * time but cannot be type-checked here: its types need `npm:@types/node`,
 * which `node_modules` lacks (`nodeModulesDir: "manual"`).
 *
 * @module
 */

function show(value: unknown): string {
  const json = JSON.stringify(value, (_key, v) => (v instanceof Uint8Array ? [...v] : v));
  const text = json === undefined ? String(value) : json;
  return text.length > 400 ? `${text.slice(0, 400)}… (${text.length} chars)` : text;
}

function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length &&
      a.every((byte, i) => byte === b[i]);
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((key) => Object.hasOwn(rb, key) && equal(ra[key], rb[key]));
}

/**
 * Asserts a condition.
 *
 * @param condition The condition.
 * @param message Failure message.
 * @throws {Error} If the condition is falsy.
 */
export function assert(condition: unknown, message = "Assertion failed"): asserts condition {
  if (!condition) throw new Error(message);
}

/**
 * Asserts deep equality of plain data (objects, arrays, primitives, bytes).
 *
 * @param actual The value under test.
 * @param expected The expected value.
 * @param message Prefix for the failure message.
 * @throws {Error} If they differ, showing both.
 */
export function assertEquals<T>(actual: unknown, expected: T, message = ""): asserts actual is T {
  if (!equal(actual, expected)) {
    throw new Error(
      `${message ? `${message}: ` : ""}Values differ\n  actual:   ${show(actual)}\n  expected: ${
        show(expected)
      }`,
    );
  }
}

/**
 * Asserts a string matches a pattern.
 *
 * @param actual The string.
 * @param pattern The pattern.
 * @throws {Error} If it does not match.
 */
export function assertMatch(actual: string, pattern: RegExp): void {
  if (!pattern.test(actual)) throw new Error(`Expected ${show(actual)} to match ${pattern}`);
}

/**
 * Asserts that a function's promise rejects with a message matching a pattern.
 *
 * @param fn The function.
 * @param pattern What the error message must match.
 * @returns The error.
 * @throws {Error} If it resolves, or rejects with another message.
 */
export async function assertRejects(fn: () => Promise<unknown>, pattern: RegExp): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    if (!pattern.test(e.message)) {
      throw new Error(`Expected rejection matching ${pattern}, got: ${e.message}`);
    }
    return e;
  }
  throw new Error(`Expected rejection matching ${pattern}, but it resolved`);
}
