/**
 * The wire format shared by every scripted peer: messages as JSON (text, or
 * binary in base64) and the one-line result a client prints.
 *
 * @module
 */

/** One message as peers pass it on the command line and report it back. */
export type PeerMessage = { readonly text: string } | { readonly binary: string };

/** What a scripted client prints after its exchange (`RESULT <json>`). */
export interface PeerResult {
  /** The echoes received, in order, in the same shape as sent. */
  received: PeerMessage[];
  /** The negotiated subprotocol, `null` if none. */
  protocol: string | null;
  /** The `Sec-WebSocket-Extensions` response value as the client saw it, `null` if none. */
  extensions: string | null;
  /** The close code the server sent back (1005 if none, 1006 if abnormal). */
  closeCode: number | null;
  /** The close reason the server sent back. */
  closeReason: string | null;
}

/** What an echo server prints per connection (`CONNECTION <json>`). */
export interface ServerConnectionInfo {
  /** Request path with query. */
  path: string;
  /** The subprotocol the server chose, `null` if none. */
  protocol: string | null;
  /** The extensions the server answered with, `null` if none (Bun: inferred). */
  extensions: string | null;
  /** The request's `Sec-WebSocket-Protocol`. */
  requestProtocols: string | null;
  /** The request's `Sec-WebSocket-Extensions`. */
  requestExtensions: string | null;
}

/**
 * Encodes bytes as base64.
 *
 * @param bytes The bytes.
 * @returns Their base64 text.
 */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Decodes base64 to bytes.
 *
 * @param text Base64 text.
 * @returns The bytes.
 */
export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Builds a text message.
 *
 * @param text The text.
 * @returns The message.
 */
export function text(text: string): PeerMessage {
  return { text };
}

/**
 * Builds a binary message.
 *
 * @param bytes The payload.
 * @returns The message, payload in base64.
 */
export function binary(bytes: Uint8Array): PeerMessage {
  return { binary: toBase64(bytes) };
}

/**
 * Finds and parses the `<prefix> <json>` line in a peer's output.
 *
 * @param output The peer's stdout.
 * @param prefix The line's first word, e.g. `RESULT`.
 * @returns The parsed JSON, or `null` if no such line.
 */
export function parseLine<T>(output: string, prefix: string): T | null {
  const line = output.split("\n").findLast((l) => l.startsWith(`${prefix} `));
  return line === undefined ? null : JSON.parse(line.slice(prefix.length + 1)) as T;
}
