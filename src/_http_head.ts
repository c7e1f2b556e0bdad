/**
 * Private HTTP grammar helpers shared by the handshake and the HTTP/1.1 head
 * reader. Not part of the public API.
 *
 * @module
 */

// RFC 9110 §5.6.2: token = 1*tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether `s` is an RFC 9110 §5.6.2 token. */
export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/**
 * Splits an RFC 9110 §5.6.1 comma-separated list, trimming OWS and dropping
 * empty elements (recipients MUST accept them). Does not handle quoted
 * strings: callers use it only for lists of tokens.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(",")) {
    const trimmed = part.replace(/^[ \t]+|[ \t]+$/g, "");
    if (trimmed !== "") out.push(trimmed);
  }
  return out;
}

/** Whether the comma-separated header `value` holds `token`, compared case-insensitively. */
export function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  const wanted = token.toLowerCase();
  return splitList(value).some((item) => item.toLowerCase() === wanted);
}

/** Reason phrases for the statuses the handshake produces. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  101: "Switching Protocols",
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};
