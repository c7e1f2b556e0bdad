// The chat demo: protocol tests with our client, and the page itself in
// headless Chromium (two pages: a message sent from one shows in the other).
import assert from "node:assert/strict";
import { connect, type EdgeSocket, WebSocketError } from "@edgesocket/core";
import { startChat } from "../../examples/chat/chat.ts";
import { peerTest } from "../_peers/mod.ts";

/** Collects parsed JSON messages; `next(type)` waits for the next one of that type. */
function inbox(socket: EdgeSocket): (type: string) => Promise<Record<string, unknown>> {
  const queue: Record<string, unknown>[] = [];
  const waiters: [string, (m: Record<string, unknown>) => void][] = [];
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data as string);
    const index = waiters.findIndex(([type]) => type === message.type);
    if (index >= 0) waiters.splice(index, 1)[0][1](message);
    else queue.push(message);
  });
  return (type) => {
    const index = queue.findIndex((m) => m.type === type);
    if (index >= 0) return Promise.resolve(queue.splice(index, 1)[0]);
    return new Promise((resolve) => waiters.push([type, resolve]));
  };
}

Deno.test("chat demo: rooms, broadcast, presence, subprotocols and RTT stats", async () => {
  await using chat = await startChat({ port: 0, statsInterval: 50 });
  const base = `ws://127.0.0.1:${chat.port}/ws`;

  const alice = connect(`${base}?name=alice&room=red`, { protocols: ["superchat", "chat"] });
  const aliceInbox = inbox(alice);
  assert.equal((await alice.opened).protocol, "superchat");
  assert.equal((await aliceInbox("welcome")).name, "alice");

  const bob = connect(`${base}?name=bob&room=red`, { protocols: ["chat"] });
  const bobInbox = inbox(bob);
  assert.equal((await bob.opened).protocol, "chat");
  await bobInbox("welcome");
  // Presence: both see both members of the room.
  const presence = await bobInbox("presence");
  assert.deepEqual((presence.members as { name: string }[]).map((m) => m.name), ["alice", "bob"]);

  const carol = connect(`${base}?name=carol&room=blue`, { protocols: ["chat"] });
  const carolInbox = inbox(carol);
  await carolInbox("welcome");

  await alice.send(JSON.stringify({ type: "say", text: "hello red" }));
  const heard = await bobInbox("message");
  assert.equal(heard.from, "alice");
  assert.equal(heard.text, "hello red");
  // Carol is in another room; she hears her own message only.
  await carol.send(JSON.stringify({ type: "say", text: "blue here" }));
  assert.equal((await carolInbox("message")).text, "blue here");

  // The live panel: superchat clients get each connection's measured round trip.
  let stats = await aliceInbox("stats");
  while ((stats.connections as { rtt: number | null }[]).some((c) => c.rtt === null)) {
    stats = await aliceInbox("stats");
  }
  const rows = stats.connections as { name: string; rtt: number; protocol: string }[];
  assert.deepEqual(rows.map((r) => r.name).sort(), ["alice", "bob", "carol"]);
  for (const row of rows) assert.ok(row.rtt >= 0 && row.rtt < 5000);

  // Bob leaves: Alice's presence list shrinks.
  bob.close(1000);
  let after = await aliceInbox("presence");
  while ((after.members as unknown[]).length !== 1) after = await aliceInbox("presence");
  assert.deepEqual((after.members as { name: string }[]).map((m) => m.name), ["alice"]);

  // A malformed message closes that connection with 1003, nobody else.
  await carol.send("not json");
  const closed = await carol.closed;
  assert.equal(closed.closeCode, 1003);
  assert.equal(alice.readyState, 1);
  alice.close(1000);
  await alice.closed;
});

Deno.test("chat demo: a client without chat or superchat is refused with 400", async () => {
  await using chat = await startChat({ port: 0 });
  const socket = connect(`ws://127.0.0.1:${chat.port}/ws`, { protocols: ["mqtt"] });
  const error = await socket.opened.then(() => null, (e) => e);
  assert.ok(error instanceof WebSocketError);
  assert.equal(error.status, 400);
});

peerTest("chat demo page in Chromium: a message from one page shows in the other", [
  "chromium",
], async () => {
  const { launchBrowser } = await import("../_peers/browser.ts");
  await using chat = await startChat({ port: 0, statsInterval: 100 });
  await using browser = await launchBrowser();
  const url = `http://127.0.0.1:${chat.port}/`;
  const [one, two] = await Promise.all([
    browser.browser.newPage(),
    browser.browser.newPage(),
  ]);
  await one.goto(`${url}?name=ana&room=r1`);
  await two.goto(`${url}?name=ben&room=r1`);
  await one.waitForFunction(
    `document.getElementById("status").textContent === "connected (superchat)"`,
  );
  await two.waitForFunction(`document.getElementById("members").children.length === 2`);
  await one.fill("#text", "hi from ana");
  await one.click("#say button");
  await two.waitForFunction(`document.getElementById("log").textContent.includes("hi from ana")`);
  const log = await two.textContent("#log");
  assert.match(log ?? "", /anahi from ana/);
  // The RTT panel fills in with a number for both connections.
  await two.waitForFunction(
    `[...document.querySelectorAll("#stats tr")].filter((tr) => /^[0-9.]+$/.test(tr.lastChild.textContent)).length === 2`,
  );
}, { sanitizeOps: false, sanitizeResources: false });
