/**
 * Child processes for interop tests: long-running peers that announce
 * readiness on stdout (`LISTENING <port>`), and one-shot scripts whose
 * output is collected.
 *
 * @module
 */

/** Default readiness line: `LISTENING <port>`. */
export const LISTENING: RegExp = /^LISTENING (\d+)$/;

/** Most bytes of stderr kept per process (the tail is kept). */
const STDERR_LIMIT = 64 * 1024;

/** Options for {@linkcode spawnPeer}. */
export interface SpawnPeerOptions {
  /** Arguments for the command. */
  args?: string[];
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** The stdout line announcing readiness; group 1, if any, is the port. Default {@linkcode LISTENING}. */
  ready?: RegExp;
  /** How long to wait for the readiness line, in ms (default 15000). */
  timeoutMs?: number;
  /** Name used in error messages (default: the command). */
  name?: string;
}

interface Waiter {
  pattern: RegExp;
  from: number;
  resolve: (match: RegExpMatchArray) => void;
  reject: (error: Error) => void;
}

/**
 * A running child process whose stdout is read line by line and whose stderr
 * is kept for error messages. Dispose it (`await using`) to kill it and wait
 * for its exit.
 */
export class Peer implements AsyncDisposable {
  /** Name used in messages. */
  readonly name: string;
  /** Process id. */
  readonly pid: number;
  /** Resolves with the exit status once the process has exited and its output is drained. */
  readonly exited: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #lines: string[] = [];
  #stderr = "";
  #waiters = new Set<Waiter>();
  #stdoutDone = false;
  #status: Deno.CommandStatus | null = null;
  #port = 0;
  #readyMatch: RegExpMatchArray | null = null;

  /**
   * Starts reading a spawned child's output. Prefer {@linkcode spawnPeer}.
   *
   * @param child The spawned child, with piped stdout and stderr.
   * @param name Name used in messages.
   */
  constructor(child: Deno.ChildProcess, name: string) {
    this.#child = child;
    this.name = name;
    this.pid = child.pid;
    const stdout = this.#readStdout(child.stdout);
    const stderr = this.#readStderr(child.stderr);
    this.exited = Promise.all([child.status, stdout, stderr]).then(([status]) => {
      this.#status = status;
      return status;
    });
  }

  /** The port from the readiness line (0 if the pattern had no group). */
  get port(): number {
    return this.#port;
  }

  /** The readiness line's match. */
  get readyMatch(): RegExpMatchArray | null {
    return this.#readyMatch;
  }

  /** Every stdout line so far. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** The collected stderr (its last 64 KiB). */
  get stderr(): string {
    return this.#stderr;
  }

  /** The exit status, or `null` while running. */
  get status(): Deno.CommandStatus | null {
    return this.#status;
  }

  async #readStdout(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buffered = "";
    try {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        buffered += text;
        let newline: number;
        while ((newline = buffered.indexOf("\n")) !== -1) {
          this.#pushLine(buffered.slice(0, newline).replace(/\r$/, ""));
          buffered = buffered.slice(newline + 1);
        }
      }
    } finally {
      if (buffered !== "") this.#pushLine(buffered);
      this.#stdoutDone = true;
      for (const waiter of this.#waiters) {
        waiter.reject(this.#error(`exited before printing a line matching ${waiter.pattern}`));
      }
      this.#waiters.clear();
    }
  }

  async #readStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      this.#stderr = (this.#stderr + text).slice(-STDERR_LIMIT);
    }
  }

  #pushLine(line: string): void {
    this.#lines.push(line);
    const index = this.#lines.length - 1;
    for (const waiter of this.#waiters) {
      if (index < waiter.from) continue;
      const match = line.match(waiter.pattern);
      if (match) {
        this.#waiters.delete(waiter);
        waiter.resolve(match);
      }
    }
  }

  #error(message: string): Error {
    const stderr = this.#stderr.trim();
    const stdout = this.#lines.slice(-20).join("\n");
    return new Error(
      `Peer ${this.name} (pid ${this.pid}) ${message}` +
        (stdout ? `\n--- stdout (tail) ---\n${stdout}` : "") +
        (stderr ? `\n--- stderr ---\n${stderr}` : ""),
    );
  }

  /**
   * Waits for a stdout line matching a pattern.
   *
   * @param pattern The line to wait for.
   * @param options `from`: first line index to consider (default 0, so lines
   * already printed count); `timeoutMs` (default 10000).
   * @returns The match.
   * @throws {Error} On timeout or exit, with the process's stderr.
   */
  waitForLine(
    pattern: RegExp,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<RegExpMatchArray> {
    const from = options.from ?? 0;
    for (let i = from; i < this.#lines.length; i++) {
      const match = this.#lines[i].match(pattern);
      if (match) return Promise.resolve(match);
    }
    if (this.#stdoutDone) {
      return Promise.reject(this.#error(`exited before printing a line matching ${pattern}`));
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(this.#error(`printed no line matching ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        pattern,
        from,
        resolve: (match) => {
          clearTimeout(timer);
          resolve(match);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /** @internal Records the readiness match. */
  _setReady(match: RegExpMatchArray): void {
    this.#readyMatch = match;
    this.#port = match[1] === undefined ? 0 : Number(match[1]);
  }

  /**
   * Stops the process (SIGTERM, then SIGKILL after `graceMs`) and waits for
   * its exit. Safe to call more than once.
   *
   * @param graceMs How long SIGTERM gets before SIGKILL (default 2000).
   * @returns The exit status.
   */
  async kill(graceMs = 2000): Promise<Deno.CommandStatus> {
    if (this.#status !== null) return this.#status;
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          this.#child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, forced]);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }

  /** Kills the process and waits for its exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}

/**
 * Spawns a long-running peer and waits until it prints its readiness line.
 *
 * @param command The executable.
 * @param options Arguments, readiness pattern, timeout.
 * @returns The running peer; its `port` comes from the readiness line.
 * @throws {Error} If the process exits or stays silent past the timeout; the
 * message carries its stderr. The process is killed first.
 *
 * @example Usage
 * ```ts ignore
 * await using server = await spawnPeer("/usr/bin/python3", {
 *   args: ["tests/_peers/py_echo_server.py"],
 * });
 * const url = `ws://127.0.0.1:${server.port}/`;
 * ```
 */
export async function spawnPeer(command: string, options: SpawnPeerOptions = {}): Promise<Peer> {
  const child = new Deno.Command(command, {
    args: options.args ?? [],
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const peer = new Peer(child, options.name ?? command);
  try {
    const match = await peer.waitForLine(options.ready ?? LISTENING, {
      timeoutMs: options.timeoutMs ?? 15_000,
    });
    peer._setReady(match);
    return peer;
  } catch (error) {
    await peer.kill(500);
    throw error;
  }
}

/** Output of {@linkcode runToCompletion}. */
export interface RunOutput {
  /** Exit code. */
  code: number;
  /** Stdout, decoded. */
  stdout: string;
  /** Stderr, decoded. */
  stderr: string;
}

/** Options for {@linkcode runToCompletion}. */
export interface RunOptions {
  /** Arguments for the command. */
  args?: string[];
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the process after this many ms (default 20000). */
  timeoutMs?: number;
}

/**
 * Runs a command to completion, killing it after a timeout.
 *
 * @param command The executable.
 * @param options Arguments and timeout.
 * @returns Exit code and decoded output (a killed process reports code 124).
 */
export async function runToCompletion(
  command: string,
  options: RunOptions = {},
): Promise<RunOutput> {
  const controller = new AbortController();
  const timeoutMs = options.timeoutMs ?? 20_000;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const out = await new Deno.Command(command, {
      args: options.args ?? [],
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const decoder = new TextDecoder();
    return {
      code: controller.signal.aborted ? 124 : out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr) +
        (controller.signal.aborted ? `\n[killed after ${timeoutMs} ms]` : ""),
    };
  } finally {
    clearTimeout(timer);
  }
}
