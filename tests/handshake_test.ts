import assert from "node:assert/strict";
import {
  computeAccept,
  createClientHandshake,
  formatExtensions,
  negotiateUpgrade,
  parseExtensions,
  rejectionResponse,
  type ServerHandshakeOptions,
  type UpgradeAccepted,
  type UpgradeRejected,
  type UpgradeRequest,
  verifyServerHandshake,
} from "../src/handshake.ts";
import { decodeBase64, encodeBase64 } from "../src/_base64.ts";
import { WebSocketError } from "../src/errors.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

function upgrade(
  headers: Record<string, string | null> = {},
  method = "GET",
): UpgradeRequest {
  const base: Record<string, string | null> = {
    Host: "server.example.com",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
    ...headers,
  };
  const h = new Headers();
  for (const [name, value] of Object.entries(base)) if (value !== null) h.set(name, value);
  return { method, url: "http://server.example.com/chat", headers: h };
}

async function accepted(
  request: UpgradeRequest,
  options?: ServerHandshakeOptions,
): Promise<UpgradeAccepted> {
  const decision = await negotiateUpgrade(request, options);
  assert.ok(decision.accepted, decision.accepted ? "" : decision.body);
  return decision;
}

/** Asserts the handshake fails with `status` and `code`, the python-websockets way. */
async function assertRejected(
  request: UpgradeRequest,
  status: number,
  code = "WS_ERR_INVALID_HANDSHAKE",
  options?: ServerHandshakeOptions,
): Promise<UpgradeRejected> {
  const decision = await negotiateUpgrade(request, options);
  assert.ok(!decision.accepted, "expected a rejection");
  assert.equal(decision.status, status);
  assert.ok(decision.error instanceof WebSocketError);
  assert.equal(decision.error.code, code);
  assert.equal(decision.error.status, status);
  assert.ok(decision.body.length > 0 && decision.body.length < 80, decision.body);
  assert.equal(decision.headers.has("sec-websocket-accept"), false);
  return decision;
}

// ---------------------------------------------------------------------------

Deno.test("_base64: round-trips and rejects invalid input", () => {
  for (let n = 0; n < 40; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    const text = encodeBase64(bytes);
    assert.equal(text, btoa(String.fromCharCode(...bytes)));
    assert.deepEqual(decodeBase64(text), bytes);
  }
  for (const bad of ["a", "abc", "ab=c", "ab c", "a===", "YQ", "YWJj\n", "****"]) {
    assert.throws(() => decodeBase64(bad), TypeError, bad);
  }
});

// RFC 6455 §1.3 and §4.2.2 step 5.4 ---------------------------------------

Deno.test("RFC 6455 §4.2.2: computeAccept matches the known vectors", async () => {
  assert.equal(await computeAccept(KEY), ACCEPT);
  assert.equal(await computeAccept("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
});

// RFC 6455 §4.2.1: reading the client's opening handshake -------------------

Deno.test("RFC 6455 §4.2.1: accepts a valid request and a fetch Request", async () => {
  const decision = await accepted(upgrade());
  assert.equal(decision.status, 101);
  assert.equal(decision.statusText, "Switching Protocols");
  assert.equal(decision.headers.get("upgrade"), "websocket");
  assert.equal(decision.headers.get("connection"), "Upgrade");
  assert.equal(decision.headers.get("sec-websocket-accept"), ACCEPT);
  assert.equal(decision.headers.has("sec-websocket-protocol"), false);
  assert.equal(decision.headers.has("sec-websocket-extensions"), false);
  assert.equal(decision.protocol, "");
  assert.equal(decision.extensions, "");

  const request = new Request("http://server.example.com/chat", { headers: upgrade().headers });
  await accepted(request);
});

Deno.test("RFC 6455 §4.2.1 item 1: a non-GET method gets 405 with Allow: GET", async () => {
  for (const method of ["POST", "HEAD", "get", "CONNECT"]) {
    const decision = await assertRejected(upgrade({}, method), 405);
    assert.equal(decision.headers.get("allow"), "GET");
  }
});

Deno.test("RFC 6455 §4.2.1 item 2: a missing Host gets 400", async () => {
  await assertRejected(upgrade({ Host: null }), 400);
});

Deno.test("RFC 6455 §4.2.1 item 3: Upgrade must list websocket, case-insensitively", async () => {
  for (const value of ["WebSocket", "websocket, h2c", "h2c ,  WEBSOCKET"]) {
    await accepted(upgrade({ Upgrade: value }));
  }
  for (const value of [null, "", "h2c", "websockets", "web socket", "websocket/13"]) {
    await assertRejected(upgrade({ Upgrade: value }), 400);
  }
});

Deno.test("RFC 6455 §4.2.1 item 4: Connection must list upgrade, case-insensitively", async () => {
  for (const value of ["upgrade", "keep-alive, Upgrade", "UPGRADE,keep-alive", ", upgrade ,"]) {
    await accepted(upgrade({ Connection: value }));
  }
  for (const value of [null, "", "keep-alive", "upgrades", "keep-alive upgrade"]) {
    await assertRejected(upgrade({ Connection: value }), 400);
  }
});

Deno.test("RFC 6455 §4.2.1 item 5: Sec-WebSocket-Key must be base64 of 16 bytes", async () => {
  const bad = [
    null,
    "",
    "dGhlIHNhbXBsZSBub25jZQ", // no padding
    "dGhlIHNhbXBsZSBub25j", // 15 bytes... of text, wrong length
    "dGhlIHNhbXBsZSBub25jZXg=", // 17 bytes
    "dGhlIHNhbXBsZSBub25jZQ=*",
    "dGhlIHNhbXBsZSBub25jZQ==, x3JJHMbDL1EzLkh9GBhXDw==", // two header values
  ];
  for (const key of bad) await assertRejected(upgrade({ "Sec-WebSocket-Key": key }), 400);
  const twice = upgrade();
  twice.headers.append("sec-websocket-key", KEY);
  await assertRejected(twice, 400);
});

Deno.test("RFC 6455 §4.2.1 item 10: a malformed Sec-WebSocket-Protocol gets 400", async () => {
  for (const value of ["chat, super chat", "chat;v=1", '"chat"']) {
    await assertRejected(upgrade({ "Sec-WebSocket-Protocol": value }), 400, undefined, {
      protocols: ["chat"],
    });
  }
});

Deno.test("RFC 6455 §4.2.1 item 7: the Origin policy answers 403", async () => {
  const origins = ["https://app.example.com", "http://localhost:8000"];
  await accepted(upgrade({ Origin: "https://app.example.com" }), { origins });
  await accepted(upgrade({ Origin: "HTTPS://App.Example.COM" }), { origins });
  await accepted(upgrade({ Origin: "http://localhost:8000" }), { origins });
  // No Origin: a non-browser client; allowed with a list.
  await accepted(upgrade(), { origins });
  for (const origin of ["https://evil.example.com", "http://app.example.com", "null"]) {
    const decision = await assertRejected(
      upgrade({ Origin: origin }),
      403,
      "WS_ERR_HANDSHAKE_REJECTED",
      { origins },
    );
    assert.equal(decision.body, "Origin not allowed");
  }
  // A function decides, and may refuse a missing Origin.
  const seen: (string | null)[] = [];
  const strict = {
    origins: (origin: string | null) => {
      seen.push(origin);
      return Promise.resolve(origin === "https://app.example.com");
    },
  };
  await accepted(upgrade({ Origin: "https://app.example.com" }), strict);
  await assertRejected(upgrade(), 403, "WS_ERR_HANDSHAKE_REJECTED", strict);
  assert.deepEqual(seen, ["https://app.example.com", null]);
});

Deno.test("RFC 6455 §4.2.1: checks run in a documented order", async () => {
  // A POST with nothing else is a 405, not a 400.
  await assertRejected(upgrade({ Upgrade: null, Host: null }, "POST"), 405);
  // A bad version is reported before a bad key.
  await assertRejected(upgrade({ "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "x" }), 426);
  // Handshake errors come before the origin policy and authorize.
  let called = false;
  await assertRejected(
    upgrade({ "Sec-WebSocket-Key": null, Origin: "https://evil" }),
    400,
    undefined,
    {
      origins: ["https://good"],
      authorize: () => {
        called = true;
      },
    },
  );
  assert.equal(called, false);
});

// RFC 6455 §4.2.2: sending the server's opening handshake --------------------

Deno.test("RFC 6455 §4.2.2: subprotocol chosen in the server's preference order", async () => {
  const request = upgrade({ "Sec-WebSocket-Protocol": "chat, superchat" });
  let decision = await accepted(request, { protocols: ["superchat", "chat"] });
  assert.equal(decision.protocol, "superchat");
  assert.equal(decision.headers.get("sec-websocket-protocol"), "superchat");
  decision = await accepted(request, { protocols: ["chat", "superchat"] });
  assert.equal(decision.protocol, "chat");
  // Repeated headers are one list.
  const repeated = upgrade({ "Sec-WebSocket-Protocol": "chat" });
  repeated.headers.append("sec-websocket-protocol", "superchat");
  assert.equal((await accepted(repeated, { protocols: ["superchat"] })).protocol, "superchat");
  // Subprotocols are case-sensitive.
  decision = await accepted(upgrade({ "Sec-WebSocket-Protocol": "Chat" }), { protocols: ["chat"] });
  assert.equal(decision.protocol, "");
});

Deno.test("RFC 6455 §4.2.2: no agreed subprotocol proceeds without one, or 400 when required", async () => {
  const request = upgrade({ "Sec-WebSocket-Protocol": "mqtt" });
  const decision = await accepted(request, { protocols: ["chat"] });
  assert.equal(decision.protocol, "");
  assert.equal(decision.headers.has("sec-websocket-protocol"), false);
  await assertRejected(request, 400, "WS_ERR_HANDSHAKE_REJECTED", {
    protocols: ["chat"],
    requireProtocol: true,
  });
  await assertRejected(upgrade(), 400, "WS_ERR_HANDSHAKE_REJECTED", {
    protocols: ["chat"],
    requireProtocol: true,
  });
  // Offered protocols but no server list: none chosen.
  assert.equal((await accepted(request)).protocol, "");
});

Deno.test("RFC 6455 §4.2.2: a protocol function picks among the offers", async () => {
  const request = upgrade({ "Sec-WebSocket-Protocol": "a, b, c" });
  const decision = await accepted(request, {
    protocols: (offered, req) => {
      assert.deepEqual(offered, ["a", "b", "c"]);
      assert.equal(req, request);
      return Promise.resolve("b");
    },
  });
  assert.equal(decision.protocol, "b");
  assert.equal((await accepted(request, { protocols: () => undefined })).protocol, "");
  await assert.rejects(negotiateUpgrade(request, { protocols: () => "d" }), TypeError);
  // Not called when nothing was offered.
  let calls = 0;
  await accepted(upgrade(), {
    protocols: () => {
      calls++;
      return "x";
    },
  });
  assert.equal(calls, 0);
});

Deno.test("RFC 6455 §4.2.2: custom headers are added to the 101", async () => {
  const headers = new Headers();
  headers.append("Set-Cookie", "a=1");
  headers.append("Set-Cookie", "b=2");
  let decision = await accepted(upgrade(), { headers });
  assert.deepEqual(decision.headers.getSetCookie(), ["a=1", "b=2"]);
  decision = await accepted(upgrade(), {
    headers: (request) => ({ "X-Path": new URL(request.url).pathname }),
  });
  assert.equal(decision.headers.get("x-path"), "/chat");
  for (const name of ["Upgrade", "Connection", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol"]) {
    await assert.rejects(negotiateUpgrade(upgrade(), { headers: { [name]: "x" } }), TypeError);
  }
});

Deno.test("RFC 6455 §4.2.2: authorize may reject with its own Response", async () => {
  const decision = await assertRejected(upgrade(), 401, "WS_ERR_HANDSHAKE_REJECTED", {
    authorize: () =>
      new Response("Log in first", {
        status: 401,
        statusText: "Unauthorized",
        headers: { "WWW-Authenticate": "Bearer" },
      }),
  });
  assert.equal(decision.body, "Log in first");
  assert.equal(decision.headers.get("www-authenticate"), "Bearer");
  assert.equal(decision.statusText, "Unauthorized");
  // Passing through: undefined, or nothing at all, async or not.
  await accepted(upgrade(), { authorize: () => undefined });
  await accepted(upgrade(), { authorize: () => Promise.resolve() });
  // Errors in hooks propagate for the caller to answer 500.
  await assert.rejects(
    negotiateUpgrade(upgrade(), {
      authorize: () => {
        throw new Error("database down");
      },
    }),
    /database down/,
  );
});

Deno.test("RFC 6455 §4.2.2 / §9.1: extensions are negotiated through the hook", async () => {
  const request = upgrade({
    "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits, x-foo",
  });
  const decision = await accepted(request, {
    extensions: (offers) => {
      assert.deepEqual(offers.map((o) => o.name), ["permessage-deflate", "x-foo"]);
      return "permessage-deflate; server_no_context_takeover";
    },
  });
  assert.equal(decision.extensions, "permessage-deflate; server_no_context_takeover");
  assert.equal(decision.headers.get("sec-websocket-extensions"), decision.extensions);
  // No hook: every offer declined.
  assert.equal((await accepted(request)).extensions, "");
  assert.equal((await accepted(request, { extensions: () => undefined })).extensions, "");
  // The hook may only answer with offered extensions, in valid syntax.
  await assert.rejects(negotiateUpgrade(request, { extensions: () => "x-bar" }), TypeError);
  await assert.rejects(negotiateUpgrade(request, { extensions: () => "x-foo;" }), TypeError);
});

Deno.test("RFC 6455 §9.1: an invalid Sec-WebSocket-Extensions gets 400", async () => {
  for (const value of ["permessage-deflate;", "a; b=", "a b", 'a; b="c d"', "a;;b"]) {
    await assertRejected(upgrade({ "Sec-WebSocket-Extensions": value }), 400);
  }
});

Deno.test("RFC 6455 §4.2.2: rejectionResponse makes a fetch Response", async () => {
  const decision = await negotiateUpgrade(upgrade({ "Sec-WebSocket-Version": "8" }));
  assert.ok(!decision.accepted);
  const response = rejectionResponse(decision);
  assert.equal(response.status, 426);
  assert.equal(response.headers.get("sec-websocket-version"), "13");
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await response.text(), decision.body);
  const noContent = rejectionResponse({ ...decision, status: 204, body: "" });
  assert.equal(noContent.status, 204);
});

// RFC 6455 §4.4: supporting multiple versions -----------------------------

Deno.test("RFC 6455 §4.4: any version but 13 gets 426 with Sec-WebSocket-Version: 13", async () => {
  for (const version of [null, "", "8", "12", "14", "13, 8", " 13x", "013"]) {
    const decision = await assertRejected(upgrade({ "Sec-WebSocket-Version": version }), 426);
    assert.equal(decision.headers.get("sec-websocket-version"), "13");
    assert.equal(decision.headers.get("upgrade"), "websocket");
  }
});

// RFC 6455 §9.1: extension header grammar ----------------------------------

Deno.test("RFC 6455 §9.1: parseExtensions", () => {
  assert.deepEqual(parseExtensions(""), []);
  assert.deepEqual(parseExtensions(" , ,"), []);
  assert.deepEqual(parseExtensions("foo"), [{ name: "foo", params: [] }]);
  assert.deepEqual(
    parseExtensions(
      'permessage-deflate ; client_max_window_bits ;server_max_window_bits = "10", ' +
        "permessage-deflate,x-webkit-deflate-frame",
    ),
    [
      {
        name: "permessage-deflate",
        params: [["client_max_window_bits", true], ["server_max_window_bits", "10"]],
      },
      { name: "permessage-deflate", params: [] },
      { name: "x-webkit-deflate-frame", params: [] },
    ],
  );
  // RFC 7692 §7.1: duplicates are kept for the extension to reject.
  assert.deepEqual(parseExtensions("a; x=1; x=2")[0].params, [["x", "1"], ["x", "2"]]);
  // Quoted strings are unescaped, and must then be tokens.
  assert.deepEqual(parseExtensions('a; x="1\\0"')[0].params, [["x", "10"]]);
  for (
    const bad of [
      ";",
      "a;",
      "a; =1",
      "a; x=",
      'a; x="1',
      'a; x="a b"',
      'a; x=""',
      'a; x="\\"',
      "a b",
      "a; x=1 2",
      "a=1",
      "a\x00",
      "a; x=é",
    ]
  ) {
    assert.throws(() => parseExtensions(bad), SyntaxError, bad);
  }
});

Deno.test("RFC 6455 §9.1: formatExtensions inverts parseExtensions", () => {
  const value = "permessage-deflate; client_max_window_bits=10; server_no_context_takeover, x-foo";
  assert.equal(formatExtensions(parseExtensions(value)), value);
  assert.throws(() => formatExtensions([{ name: "a b", params: [] }]), TypeError);
  assert.throws(() => formatExtensions([{ name: "a", params: [["x y", true]] }]), TypeError);
  assert.throws(() => formatExtensions([{ name: "a", params: [["x", "1 2"]] }]), TypeError);
});

// RFC 6455 §4.1: client requirements -------------------------------------

const fixedRandom = (bytes: Uint8Array): void => {
  for (let i = 0; i < bytes.length; i++) bytes[i] = i;
};

Deno.test("RFC 6455 §4.1: createClientHandshake builds the request", () => {
  const { key, url, request } = createClientHandshake("ws://example.com/chat?room=1", {
    protocols: ["chat", "superchat"],
    extensions: "permessage-deflate; client_max_window_bits",
    origin: "https://app.example.com",
    headers: { Authorization: "Bearer t", "X-Trace": "1" },
    random: fixedRandom,
  });
  assert.equal(key, encodeBase64(Uint8Array.from({ length: 16 }, (_, i) => i)));
  assert.equal(decodeBase64(key).length, 16);
  assert.equal(url.href, "ws://example.com/chat?room=1");
  assert.equal(request.method, "GET");
  assert.equal(request.target, "/chat?room=1");
  const h = request.headers;
  assert.equal(h.get("host"), "example.com");
  assert.equal(h.get("upgrade"), "websocket");
  assert.equal(h.get("connection"), "Upgrade");
  assert.equal(h.get("sec-websocket-key"), key);
  assert.equal(h.get("sec-websocket-version"), "13");
  assert.equal(h.get("sec-websocket-protocol"), "chat, superchat");
  assert.equal(h.get("sec-websocket-extensions"), "permessage-deflate; client_max_window_bits");
  assert.equal(h.get("origin"), "https://app.example.com");
  assert.equal(h.get("authorization"), "Bearer t");
});

Deno.test("RFC 6455 §4.1 item 7: the key is fresh random bytes", () => {
  const a = createClientHandshake("ws://example.com").key;
  const b = createClientHandshake("ws://example.com").key;
  assert.notEqual(a, b);
  assert.equal(decodeBase64(a).length, 16);
});

Deno.test("RFC 6455 §4.1 item 4: Host carries the port only when not the default", () => {
  const host = (url: string | URL) => createClientHandshake(url).request.headers.get("host");
  assert.equal(host("ws://example.com:80/"), "example.com");
  assert.equal(host("wss://example.com:443/"), "example.com");
  assert.equal(host("ws://example.com:443/"), "example.com:443");
  assert.equal(host("wss://example.com:8443/"), "example.com:8443");
  assert.equal(host(new URL("ws://[::1]:9000")), "[::1]:9000");
  const custom = createClientHandshake("ws://10.0.0.1/", { headers: { Host: "virtual.example" } });
  assert.equal(custom.request.headers.get("host"), "virtual.example");
});

Deno.test("RFC 6455 §3: WHATWG URL rules for the client", () => {
  const { url, request } = createClientHandshake("https://example.com");
  assert.equal(url.protocol, "wss:");
  assert.equal(request.target, "/");
  assert.equal(createClientHandshake("http://example.com/").url.protocol, "ws:");
  for (const bad of ["ftp://example.com", "example.com", "ws://", "ws://a/#", "ws://a/#frag"]) {
    assert.throws(() => createClientHandshake(bad), (error: unknown) => {
      assert.ok(error instanceof DOMException, bad);
      assert.equal(error.name, "SyntaxError");
      return true;
    });
  }
});

Deno.test("RFC 6455 §4.1 item 10: subprotocols must be unique tokens", () => {
  for (const protocols of [["a b"], [""], ["a", "a"], ["a,b"], ["é"]]) {
    assert.throws(() => createClientHandshake("ws://a", { protocols }), (error: unknown) => {
      assert.ok(error instanceof DOMException);
      assert.equal(error.name, "SyntaxError");
      return true;
    });
  }
  assert.throws(() => createClientHandshake("ws://a", { extensions: "a;" }), TypeError);
  for (const name of ["Upgrade", "Sec-WebSocket-Key", "Sec-WebSocket-Protocol", "Connection"]) {
    assert.throws(() => createClientHandshake("ws://a", { headers: { [name]: "x" } }), TypeError);
  }
});

Deno.test("RFC 6455 §4.1: client and server agree end to end", async () => {
  const client = createClientHandshake("ws://example.com/chat", {
    protocols: ["v2", "v1"],
    extensions: "permessage-deflate",
  });
  const request = {
    method: "GET",
    url: "http://example.com/chat",
    headers: client.request.headers,
  };
  const decision = await accepted(request, {
    protocols: ["v1", "v2"],
    extensions: () => "permessage-deflate",
  });
  const result = await verifyServerHandshake(decision, client.key, {
    protocols: ["v2", "v1"],
    extensions: ["permessage-deflate"],
  });
  assert.deepEqual(result, { protocol: "v1", extensions: "permessage-deflate" });
});

function response101(headers: Record<string, string | null> = {}, status = 101) {
  const base: Record<string, string | null> = {
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Accept": ACCEPT,
    ...headers,
  };
  const h = new Headers();
  for (const [name, value] of Object.entries(base)) if (value !== null) h.set(name, value);
  return { status, headers: h };
}

const OFFER = { protocols: ["chat", "superchat"], extensions: ["permessage-deflate"] };

async function assertInvalidResponse(
  response: { status: number; headers: Headers },
  offered = OFFER,
  code = "WS_ERR_INVALID_HANDSHAKE",
): Promise<void> {
  await assert.rejects(verifyServerHandshake(response, KEY, offered), (error: unknown) => {
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.code, code);
    assert.equal(error.status, response.status);
    return true;
  });
}

Deno.test("RFC 6455 §4.1: verifyServerHandshake accepts a valid 101", async () => {
  assert.deepEqual(await verifyServerHandshake(response101(), KEY, OFFER), {
    protocol: "",
    extensions: "",
  });
  const result = await verifyServerHandshake(
    response101({
      Upgrade: "WebSocket",
      Connection: "keep-alive, upgrade",
      "Sec-WebSocket-Protocol": "superchat",
      "Sec-WebSocket-Extensions": "permessage-deflate; server_no_context_takeover",
    }),
    KEY,
    OFFER,
  );
  assert.deepEqual(result, {
    protocol: "superchat",
    extensions: "permessage-deflate; server_no_context_takeover",
  });
});

Deno.test("RFC 6455 §4.1: a non-101 status is a rejection carrying the status", async () => {
  for (const status of [200, 400, 403, 426, 500]) {
    await assertInvalidResponse(response101({}, status), OFFER, "WS_ERR_HANDSHAKE_REJECTED");
  }
});

Deno.test("RFC 6455 §4.1: the client fails the connection on a bad 101", async () => {
  await assertInvalidResponse(response101({ Upgrade: null }));
  await assertInvalidResponse(response101({ Upgrade: "h2c" }));
  await assertInvalidResponse(response101({ Connection: null }));
  await assertInvalidResponse(response101({ Connection: "keep-alive" }));
  await assertInvalidResponse(response101({ "Sec-WebSocket-Accept": null }));
  await assertInvalidResponse(response101({ "Sec-WebSocket-Accept": ACCEPT.toLowerCase() }));
  await assertInvalidResponse(
    response101({ "Sec-WebSocket-Accept": "HSmrc0sMlYUkAGmm5OPpG2HaGWk=" }),
  );
  // A subprotocol that was not offered, or any when none was offered.
  await assertInvalidResponse(response101({ "Sec-WebSocket-Protocol": "mqtt" }));
  await assertInvalidResponse(response101({ "Sec-WebSocket-Protocol": "chat, superchat" }));
  await assertInvalidResponse(response101({ "Sec-WebSocket-Protocol": "chat" }), {
    protocols: [],
    extensions: [],
  });
  // An extension that was not offered, or a malformed header.
  await assertInvalidResponse(response101({ "Sec-WebSocket-Extensions": "x-foo" }));
  await assertInvalidResponse(response101({ "Sec-WebSocket-Extensions": "permessage-deflate;" }));
  await assertInvalidResponse(response101({ "Sec-WebSocket-Extensions": "permessage-deflate" }), {
    protocols: [],
    extensions: [],
  });
});
