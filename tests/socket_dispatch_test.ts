// How EdgeSocket hands messages to `onmessage`, listeners and `readable`: the
// direct-call fast path (only `onmessage` consumes) and the dispatched path,
// fed by a driver that reports like the native-backed ones (ArrayBuffers).
import assert from "node:assert/strict";
import { RESOLVED } from "../src/_promise.ts";
import { WebSocketError } from "../src/errors.ts";
import {
  EdgeSocket,
  type SocketCapabilities,
  type SocketDriver,
  type SocketEvents,
} from "../src/socket.ts";

const CAPABILITIES: SocketCapabilities = {
  ping: false,
  backpressure: false,
  compression: false,
  anyCloseCode: true,
};

/**
 * A socket whose driver records sends; `events` feeds it. With `sendBuffer`, the
 * driver also takes ArrayBuffers as they are (like the native drivers); with
 * `views`, it records each `preferViews` call there. `url` defaults to `ws://localhost/`.
 */
function openSocket(
  options: { sendBuffer?: boolean; views?: boolean[]; url?: string } = {},
): { socket: EdgeSocket; events: SocketEvents; sent: unknown[] } {
  let events!: SocketEvents;
  const sent: unknown[] = [];
  const views = options.views;
  const socket = new EdgeSocket(options.url ?? "ws://localhost/", (hooks) => {
    events = hooks;
    const driver: SocketDriver = {
      capabilities: CAPABILITIES,
      bufferedAmount: 0,
      send: (data) => {
        sent.push(data);
        return RESOLVED;
      },
      ping: () => {},
      close: () => events.close({ closeCode: 1000, reason: "", wasClean: true }),
      setReading: () => {},
      terminate: () => events.close({ closeCode: 1006, reason: "", wasClean: false }),
    };
    if (views) driver.preferViews = (wanted) => views.push(wanted);
    if (options.sendBuffer) {
      driver.sendBuffer = (data) => {
        sent.push(data);
        return RESOLVED;
      };
    }
    return driver;
  });
  events.open("", "");
  return { socket, events, sent };
}

Deno.test("socket dispatch: onmessage alone gets the message's own ArrayBuffer, target and this", () => {
  const { socket, events } = openSocket();
  const seen: { event: MessageEvent; self: unknown }[] = [];
  socket.onmessage = function (event) {
    seen.push({ event, self: this });
  };
  const buffer = new Uint8Array([1, 2, 3]).buffer;
  events.message(buffer);
  events.message("text");
  assert.equal(seen.length, 2);
  const [{ event, self }, { event: text }] = seen;
  assert.equal(event.data, buffer);
  assert.equal(event.type, "message");
  assert.equal(event.target, socket);
  assert.equal(event.currentTarget, socket);
  assert.equal(self, socket);
  // The serialization of the socket URL's origin (WebSockets standard).
  assert.equal(event.origin, "ws://localhost");
  assert.deepEqual(event.ports, []);
  assert.equal(typeof event.timeStamp, "number");
  assert.equal(event.timeStamp, event.timeStamp);
  assert.equal(text.data, "text");
  socket.close(1000);
});

Deno.test("socket dispatch: binaryType applies to ArrayBuffers and views on both paths", async () => {
  for (const extraListener of [false, true]) {
    const { socket, events } = openSocket();
    const data: unknown[] = [];
    socket.onmessage = (event) => data.push(event.data);
    if (extraListener) socket.addEventListener("message", () => {});
    const buffer = new Uint8Array([7, 8]).buffer;
    socket.binaryType = "uint8array";
    events.message(buffer);
    socket.binaryType = "blob";
    events.message(buffer);
    socket.binaryType = "arraybuffer";
    events.message(new Uint8Array([0, 9, 9, 0]).subarray(1, 3));
    assert.equal(data.length, 3);
    assert.ok(data[0] instanceof Uint8Array);
    assert.equal((data[0] as Uint8Array).buffer, buffer);
    assert.ok(data[1] instanceof Blob);
    assert.deepEqual(new Uint8Array(await (data[1] as Blob).arrayBuffer()), new Uint8Array([7, 8]));
    assert.ok(data[2] instanceof ArrayBuffer);
    assert.deepEqual(new Uint8Array(data[2] as ArrayBuffer), new Uint8Array([9, 9]));
    socket.close(1000);
  }
});

Deno.test("socket dispatch: an added listener turns dispatch back on, in registration order", () => {
  const { socket, events } = openSocket();
  const order: string[] = [];
  socket.onmessage = (event) => {
    assert.ok(event instanceof MessageEvent);
    order.push("onmessage");
  };
  const listener = (): void => {
    order.push("listener");
  };
  socket.addEventListener("message", listener);
  events.message("a");
  // Removing it keeps the dispatched path (the fast path is off for good), still correct.
  socket.removeEventListener("message", listener);
  events.message("b");
  assert.deepEqual(order, ["onmessage", "listener", "onmessage"]);
  socket.close(1000);
});

Deno.test("socket dispatch: handler attributes keep their place among listeners (HTML §8.1.8.1)", () => {
  const { socket } = openSocket();
  const order: string[] = [];
  // A listener first, then the attribute: the listener runs first.
  socket.addEventListener("error", () => order.push("error listener"));
  socket.onerror = () => order.push("onerror");
  // The attribute first, then a listener: the attribute runs first, and a new
  // value keeps that place.
  socket.onclose = () => order.push("onclose (old)");
  socket.addEventListener("close", () => order.push("close listener"));
  socket.onclose = () => order.push("onclose");
  socket.dispatchEvent(new Event("error"));
  socket.dispatchEvent(new Event("close"));
  // Unset, the attribute stops running; set again, it comes after the listener.
  socket.onclose = null;
  socket.dispatchEvent(new Event("close"));
  socket.onclose = () => order.push("onclose (again)");
  socket.dispatchEvent(new Event("close"));
  assert.deepEqual(order, [
    "error listener",
    "onerror",
    "onclose",
    "close listener",
    "close listener",
    "close listener",
    "onclose (again)",
  ]);
  socket.close(1000);
});

Deno.test("socket dispatch: a handler attribute alone runs as a listener, with target and this", () => {
  const { socket } = openSocket();
  const seen: { type: string; target: unknown; current: unknown; self: unknown }[] = [];
  socket.onopen = function (event) {
    seen.push({ type: event.type, target: event.target, current: event.currentTarget, self: this });
    event.stopImmediatePropagation();
  };
  // Added after the attribute ran once: still behind it, so never reached.
  socket.dispatchEvent(new Event("open"));
  socket.addEventListener(
    "open",
    () => seen.push({ type: "listener", target: 0, current: 0, self: 0 }),
  );
  socket.dispatchEvent(new Event("open"));
  assert.deepEqual(seen, [
    { type: "open", target: socket, current: socket, self: socket },
    { type: "open", target: socket, current: socket, self: socket },
  ]);
  assert.equal(typeof socket.onopen, "function");
  // A non-function unsets it (HTML: the IDL type is a nullable callback).
  socket.onopen = "nope" as unknown as null;
  assert.equal(socket.onopen, null);
  socket.close(1000);
});

/**
 * Runs `body` while catching what is reported as an uncaught error (the
 * global `error` event, as for a throwing listener); returns those errors.
 */
function reportedDuring(body: () => void): unknown[] {
  const reported: unknown[] = [];
  const onError = (event: ErrorEvent): void => {
    reported.push(event.error);
    event.preventDefault();
  };
  globalThis.addEventListener("error", onError);
  try {
    body();
  } finally {
    globalThis.removeEventListener("error", onError);
  }
  return reported;
}

Deno.test("socket dispatch: a throwing onmessage is reported and later messages still arrive", () => {
  const { socket, events } = openSocket();
  const received: unknown[] = [];
  const failure = new Error("handler failed");
  try {
    const reported = reportedDuring(() => {
      socket.onmessage = (event) => {
        received.push(event.data);
        if (event.data === "boom") throw failure;
      };
      events.message("boom");
      events.message("after");
    });
    assert.deepEqual(received, ["boom", "after"]);
    assert.deepEqual(reported, [failure]);
  } finally {
    socket.close(1000);
  }
});

Deno.test("socket dispatch: ArrayBuffers reach readable as Uint8Arrays", async () => {
  const { socket, events } = openSocket();
  const reader = socket.readable.getReader();
  const buffer = new Uint8Array([4, 5]).buffer;
  events.message(buffer);
  const { value } = await reader.read();
  assert.ok(value instanceof Uint8Array);
  assert.deepEqual(value, new Uint8Array([4, 5]));
  reader.releaseLock();
  socket.close(1000);
});

Deno.test("socket dispatch: a send the driver completed at once resolves", async () => {
  const { socket, sent } = openSocket();
  const bytes = new Uint8Array([1]);
  await socket.send(bytes.buffer);
  await socket.send("x");
  assert.deepEqual(sent, [bytes, "x"]);
  socket.close(1000);
});

Deno.test("socket dispatch: a driver with sendBuffer gets ArrayBuffers as they are, in order behind a Blob", async () => {
  const { socket, sent } = openSocket({ sendBuffer: true });
  const first = new Uint8Array([1]).buffer;
  await socket.send(first);
  assert.equal(sent[0], first);
  const blob = socket.send(new Blob([new Uint8Array([2])]));
  const last = socket.send(new Uint8Array([3]).buffer);
  await Promise.all([blob, last]);
  assert.deepEqual(sent.slice(1).map((data) => [...new Uint8Array(data as ArrayBuffer)]), [[2], [
    3,
  ]]);
  socket.close(1000);
});

Deno.test("socket dispatch: a socket that cannot pause reading keeps at most readableHighWaterMark unconsumed messages", async () => {
  const { socket, events } = openSocket();
  // Nobody consumes; the native driver cannot stop reading: 20 arrive, 16 are kept.
  for (let i = 0; i < 20; i++) events.message(`m${i}`);
  const reader = socket.readable.getReader();
  const kept: unknown[] = [];
  for (let i = 0; i < 16; i++) kept.push((await reader.read()).value);
  assert.deepEqual(kept, Array.from({ length: 16 }, (_, i) => `m${i}`));
  // After the stream exists, messages flow again.
  events.message("after");
  assert.equal((await reader.read()).value, "after");
  reader.releaseLock();
  socket.close(1000);
});

Deno.test("socket dispatch: open is the first event, even when a message, error or close comes before its macrotask", async () => {
  // A runtime's socket (Deno.serve) reports as it pleases: the peer's first
  // message, or the whole close, can arrive before the macrotask that `open`
  // waits for. `open` then goes first, and no timer of it outlives the socket
  // (it was dispatched after `close`, and leaked past a test that ended there).
  const error = new WebSocketError("WS_ERR_CONNECTION_LOST", "lost", { closeCode: 1006 });
  const cases: [string, (events: SocketEvents) => void, string[]][] = [
    ["message", (events) => {
      events.message("hi");
      events.close({ closeCode: 1000, reason: "", wasClean: true });
    }, ["open 1", "message hi", "close 1000"]],
    ["close", (events) => {
      events.close({ closeCode: 4000, reason: "", wasClean: true });
    }, ["open 1", "close 4000"]],
    ["error", (events) => {
      events.error(error);
      events.close({ closeCode: 1006, reason: "", wasClean: false });
    }, ["open 1", "error WS_ERR_CONNECTION_LOST", "close 1006"]],
  ];
  for (const [name, arrive, expected] of cases) {
    const { socket, events } = openSocket();
    const seen: string[] = [];
    socket.onopen = () => seen.push(`open ${socket.readyState}`);
    socket.onmessage = (event) => seen.push(`message ${event.data}`);
    socket.onerror = (event) => seen.push(`error ${event.error.code}`);
    socket.onclose = (event) => seen.push(`close ${event.code}`);
    arrive(events);
    assert.deepEqual(seen, expected, name);
    // A macrotask later: no second, late `open`.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(seen, expected, name);
    assert.equal(socket.readyState, 3);
  }
});

Deno.test("socket dispatch: open waits for the next macrotask, so a listener added at once gets it", async () => {
  const { socket } = openSocket();
  const seen: string[] = [];
  socket.addEventListener("open", () => seen.push("open"));
  assert.deepEqual(seen, []);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(seen, ["open"]);
  socket.close(1000);
  assert.deepEqual(seen, ["open"]);
});

Deno.test("socket dispatch: the driver is told whether views or ArrayBuffers are wanted, on each change", async () => {
  const views: boolean[] = [];
  const { socket, events } = openSocket({ views });
  assert.deepEqual(views, [], "nothing said before any change (ArrayBuffers by default)");
  socket.binaryType = "uint8array";
  socket.binaryType = "uint8array"; // no change, nothing said
  socket.binaryType = "arraybuffer";
  socket.binaryType = "blob";
  socket.binaryType = "arraybuffer";
  assert.deepEqual(views, [true, false, true, false]);
  assert.equal(socket.binaryType, "arraybuffer");
  // Not one of the three: ignored, as browsers ignore an unknown enumerated value.
  socket.binaryType = "nodebuffer" as "blob";
  assert.equal(socket.binaryType, "arraybuffer");
  assert.equal(views.length, 4);
  // A readable consumer takes views whatever binaryType says; cancelling it gives that back.
  const reader = socket.readable.getReader();
  assert.deepEqual(views.slice(4), [true]);
  socket.binaryType = "blob";
  socket.binaryType = "arraybuffer";
  assert.deepEqual(views.slice(5), [true, true], "still views while the stream reads");
  const bytes = new Uint8Array([9, 8, 7]);
  events.message(bytes);
  assert.deepEqual((await reader.read()).value, bytes);
  await reader.cancel();
  assert.deepEqual(views.slice(7), [false]);
  // Either form the driver hands over reaches every consumer as its binaryType says.
  socket.binaryType = "uint8array";
  const seen: unknown[] = [];
  socket.onmessage = (event) => seen.push(event.data);
  events.message(new Uint8Array([1, 2]).buffer);
  events.message(new Uint8Array([3, 4]));
  assert.ok(seen.every((data) => data instanceof Uint8Array));
  assert.deepEqual(seen.map((data) => [...(data as Uint8Array)]), [[1, 2], [3, 4]]);
  socket.close(1000);
});

Deno.test("socket dispatch: message events carry the origin of the socket's URL, on both paths", () => {
  for (
    const [url, origin] of [
      ["ws://localhost/", "ws://localhost"],
      ["wss://example.test:8443/chat?room=1", "wss://example.test:8443"],
      ["http://127.0.0.1:8000/ws", "http://127.0.0.1:8000"],
      ["not a url", ""],
    ]
  ) {
    const { socket, events } = openSocket({ url });
    const origins: string[] = [];
    // Fast path (onmessage alone), then a real MessageEvent once a listener exists.
    socket.onmessage = (event) => origins.push(event.origin);
    events.message("one");
    socket.addEventListener("message", (event) => {
      assert.ok(event instanceof MessageEvent);
      origins.push(event.origin);
    });
    events.message("two");
    assert.deepEqual(origins, [origin, origin, origin], url);
    socket.close(1000);
  }
});

Deno.test("socket dispatch: onopen, onerror and onclose alone are called directly, with their real events", async () => {
  // The runtime's dispatch code must not see our events: its inline caches
  // would go megamorphic for every event of the process (Deno.serve: 10-19%
  // more CPU per message). So, while only handler attributes listen, the
  // socket never enters EventTarget's dispatchEvent for them.
  const dispatch = EventTarget.prototype.dispatchEvent;
  const dispatched: string[] = [];
  EventTarget.prototype.dispatchEvent = function (this: EventTarget, event: Event) {
    dispatched.push(event.type);
    return dispatch.call(this, event);
  };
  try {
    const { socket, events } = openSocket();
    const seen: unknown[][] = [];
    const record = function (this: EdgeSocket, event: Event): void {
      seen.push([
        event.type,
        event.constructor.name,
        event.target === socket,
        event.currentTarget === socket,
        event.eventPhase,
        this === socket,
      ]);
    };
    socket.onopen = record;
    socket.onerror = record;
    socket.onclose = (event) => {
      record.call(socket, event);
      seen.push([event.code, event.reason, event.wasClean]);
    };
    await new Promise((resolve) => setTimeout(resolve, 0));
    events.error(new WebSocketError("WS_ERR_CONNECTION_LOST", "lost", { closeCode: 1006 }));
    events.close({ closeCode: 1006, reason: "gone", wasClean: false });
    assert.deepEqual(seen, [
      ["open", "Event", true, true, 2, true],
      ["error", "WebSocketErrorEvent", true, true, 2, true],
      ["close", "WebSocketCloseEvent", true, true, 2, true],
      [1006, "gone", false],
    ]);
    assert.deepEqual(dispatched, []);

    // With a listener of a type, that type is dispatched: listeners and the
    // attribute in registration order.
    const second = openSocket();
    const order: string[] = [];
    second.socket.onclose = () => order.push("onclose");
    second.socket.addEventListener("close", () => order.push("listener"));
    second.socket.onerror = () => order.push("onerror");
    second.events.error(new WebSocketError("WS_ERR_CONNECTION_LOST", "lost", { closeCode: 1006 }));
    second.events.close({ closeCode: 1006, reason: "", wasClean: false });
    assert.deepEqual(order, ["onerror", "onclose", "listener"]);
    // open (pending, dispatched first), error: direct; close: dispatched.
    assert.deepEqual(dispatched, ["close"]);
  } finally {
    EventTarget.prototype.dispatchEvent = dispatch;
  }
});

Deno.test("socket dispatch: a throwing onclose is reported like a listener's exception", () => {
  const { socket, events } = openSocket();
  const failure = new Error("onclose failed");
  const reported = reportedDuring(() => {
    socket.onclose = () => {
      throw failure;
    };
    events.close({ closeCode: 1000, reason: "", wasClean: true });
  });
  assert.equal(socket.readyState, 3);
  assert.deepEqual(reported, [failure]);
});
