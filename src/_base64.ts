/**
 * Base64 (RFC 4648 §4) for the opening handshake: the `Sec-WebSocket-Key`
 * nonce and the `Sec-WebSocket-Accept` digest. Uses the native
 * `Uint8Array.prototype.toBase64` / `Uint8Array.fromBase64` where present and
 * falls back to `btoa`/`atob` (Node 20 lacks the native methods).
 *
 * @module
 */

interface NativeBase64Constructor {
  fromBase64?: (input: string) => Uint8Array;
}
interface NativeBase64Instance {
  toBase64?: () => string;
}

const nativeFromBase64 = (Uint8Array as unknown as NativeBase64Constructor).fromBase64;
const nativeToBase64 = (Uint8Array.prototype as unknown as NativeBase64Instance).toBase64;

// RFC 4648 §4: canonical padded alphabet only; no whitespace, no missing
// padding. Both the native decoder and `atob` are laxer than this by default.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Encodes bytes as padded standard base64.
 *
 * @param bytes The bytes to encode.
 * @returns The base64 text.
 */
export function encodeBase64(bytes: Uint8Array): string {
  if (nativeToBase64 !== undefined) return nativeToBase64.call(bytes);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Decodes padded standard base64, rejecting whitespace, missing padding and
 * characters outside the alphabet.
 *
 * @param s The base64 text.
 * @returns The decoded bytes.
 * @throws {TypeError} If `s` is not canonical padded base64.
 */
export function decodeBase64(s: string): Uint8Array {
  if (!BASE64.test(s)) throw new TypeError("Invalid base64 input");
  if (nativeFromBase64 !== undefined) return nativeFromBase64(s);
  const binary = atob(s);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
