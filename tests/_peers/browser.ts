/**
 * Chromium as a peer, driven by playwright-core (npm, bare specifier via package.json) from Deno (it works
 * under Deno's Node compatibility; tests need `-A` and the op/resource
 * sanitizers off).
 *
 * @module
 */

import { type Browser, chromium, type Page } from "playwright-core";
import type { PeerMessage, PeerResult } from "./messages.ts";
import { requireTool } from "./tools.ts";

/** Flags Chromium is launched with: headless, sandboxless, no background traffic. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Options for {@linkcode BrowserSession.echo}. */
export interface BrowserEchoOptions {
  /** Subprotocols passed to `new WebSocket(url, protocols)`. */
  protocols?: string[];
  /** Close code sent after the echoes (default 1000). */
  closeCode?: number;
  /** Close reason sent after the echoes (default `"bye"`). */
  closeReason?: string;
  /** Give up after this many ms (default 15000). */
  timeoutMs?: number;
}

interface PageEchoArgs {
  url: string;
  messages: PeerMessage[];
  protocols: string[];
  closeCode: number;
  closeReason: string;
  timeoutMs: number;
}

/** Runs inside the page: keep it self-contained (it is serialised). */
function pageEcho(args: PageEchoArgs): Promise<PeerResult> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(args.url, args.protocols);
    socket.binaryType = "arraybuffer";
    const received: PeerMessage[] = [];
    const timer = setTimeout(() => {
      reject(new Error(`Timed out after ${args.timeoutMs} ms, ${received.length} echoes`));
      socket.close();
    }, args.timeoutMs);
    const toBase64 = (bytes: Uint8Array): string => {
      let binary = "";
      for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      return btoa(binary);
    };
    socket.onopen = () => {
      for (const item of args.messages) {
        if ("text" in item) {
          socket.send(item.text);
        } else {
          const binary = atob(item.binary);
          const bytes = new Uint8Array(binary.length);
          for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
          socket.send(bytes);
        }
      }
      if (args.messages.length === 0) socket.close(args.closeCode, args.closeReason);
    };
    socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
      received.push(
        typeof event.data === "string"
          ? { text: event.data }
          : { binary: toBase64(new Uint8Array(event.data)) },
      );
      if (received.length === args.messages.length) socket.close(args.closeCode, args.closeReason);
    };
    socket.onclose = (event) => {
      clearTimeout(timer);
      resolve({
        received,
        protocol: socket.protocol || null,
        extensions: socket.extensions || null,
        closeCode: event.code,
        closeReason: event.reason,
      });
    };
  });
}

/** A running Chromium; dispose it to close the browser. */
export class BrowserSession implements AsyncDisposable {
  /** The Playwright browser, for anything the helpers do not cover. */
  readonly browser: Browser;

  /**
   * Wraps a launched browser. Prefer {@linkcode launchBrowser}.
   *
   * @param browser A Playwright browser.
   */
  constructor(browser: Browser) {
    this.browser = browser;
  }

  /**
   * Opens a blank page, connects to `url` with the page's own `WebSocket`,
   * sends the messages, collects as many echoes, and closes.
   *
   * @param url The server's `ws://` URL.
   * @param messages What to send.
   * @param options Subprotocols, close code and reason, timeout.
   * @returns What the page saw: echoes, `protocol`, `extensions`, close code.
   */
  async echo(
    url: string,
    messages: readonly PeerMessage[],
    options: BrowserEchoOptions = {},
  ): Promise<PeerResult> {
    const page = await this.browser.newPage();
    try {
      return await page.evaluate(pageEcho, {
        url,
        messages: [...messages],
        protocols: options.protocols ?? [],
        closeCode: options.closeCode ?? 1000,
        closeReason: options.closeReason ?? "bye",
        timeoutMs: options.timeoutMs ?? 15_000,
      });
    } finally {
      await page.close();
    }
  }

  /**
   * Opens `count` pages, each navigated to `url` (an `http://` page, e.g. a
   * chat demo), in separate browser contexts so they share no storage.
   *
   * @param url The page to load.
   * @param count How many pages.
   * @returns The loaded pages; they close with the session.
   */
  async openPages(url: string, count: number): Promise<Page[]> {
    const pages: Page[] = [];
    for (let i = 0; i < count; i++) {
      const context = await this.browser.newContext();
      const page = await context.newPage();
      await page.goto(url);
      pages.push(page);
    }
    return pages;
  }

  /** Closes the browser. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.browser.close();
  }
}

/**
 * Launches headless Chromium (`/usr/bin/chromium`, or `EDGESOCKET_CHROMIUM`).
 *
 * @returns The session; dispose it to close the browser.
 * @throws {Error} If Chromium is missing or fails to start.
 *
 * @example Usage
 * ```ts ignore
 * await using browser = await launchBrowser();
 * const result = await browser.echo("ws://127.0.0.1:8080/", [{ text: "hi" }]);
 * ```
 */
export async function launchBrowser(): Promise<BrowserSession> {
  const browser = await chromium.launch({
    executablePath: requireTool("chromium").path,
    args: [...CHROMIUM_ARGS],
  });
  return new BrowserSession(browser);
}

/**
 * One-shot {@linkcode BrowserSession.echo}: launches Chromium, runs the
 * exchange, closes Chromium.
 *
 * @param url The server's `ws://` URL.
 * @param messages What to send.
 * @param protocols Subprotocols to offer.
 * @returns What the page saw.
 */
export async function browserEcho(
  url: string,
  messages: readonly PeerMessage[],
  protocols?: string[],
): Promise<PeerResult> {
  await using session = await launchBrowser();
  return await session.echo(url, messages, { protocols });
}

/** Pages opened by {@linkcode openPages}, with their browser; dispose to close all. */
export interface PageGroup extends AsyncDisposable {
  /** The browser session holding the pages. */
  session: BrowserSession;
  /** The pages, each in its own context. */
  pages: Page[];
}

/**
 * Launches Chromium and opens `count` pages at `url`.
 *
 * @param url The page to load.
 * @param count How many pages.
 * @returns The pages and their session.
 */
export async function openPages(url: string, count: number): Promise<PageGroup> {
  const session = await launchBrowser();
  try {
    const pages = await session.openPages(url, count);
    return { session, pages, [Symbol.asyncDispose]: () => session[Symbol.asyncDispose]() };
  } catch (error) {
    await session[Symbol.asyncDispose]();
    throw error;
  }
}
