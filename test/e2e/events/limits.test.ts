/**
 * events - authentication and caps of the WebSocket stream: the first-frame deadline,
 * nothing delivered before authentication, upgrade-header credentials, the per-user,
 * per-gateway and per-connection caps (close 1013 with a reason), heartbeats, and the
 * slow-consumer close (a bounded send buffer, never gateway memory growth).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceProcess } from "../../harness/mod.ts";
import {
  type Client,
  type Mesh,
  openClient,
  publish,
  runtimeEvent,
  startMesh,
  subscribed,
  waitFor,
  wsUrl,
} from "./helpers.ts";

let mesh: Mesh;
let gw: ServiceProcess;
let tight: ServiceProcess;
let beat: ServiceProcess;

beforeAll(async () => {
  mesh = await startMesh({ gatewayEnv: { EP_WS_AUTH_TIMEOUT_MS: "400", EP_WS_MAX_PER_PRINCIPAL: "3" } });
  gw = mesh.gateways[0] as ServiceProcess;
  tight = await mesh.addGateway({
    EP_WS_MAX_CONNECTIONS: "4",
    EP_WS_MAX_PER_PRINCIPAL: "25",
    EP_WS_MAX_BUFFER_BYTES: "65536",
  });
  beat = await mesh.addGateway({ EP_WS_HEARTBEAT_MS: "1000" });
});
afterAll(async () => {
  await mesh?.stop();
});

async function stats(g: ServiceProcess) {
  const r = await fetch(`${g.url}/api/v1/ws/stats`, { headers: { "x-api-key": mesh.ownerKey } });
  expect(r.status).toBe(200);
  return (await r.json()) as { connections: number; authenticated: number; principals: number };
}

describe("events - websocket authentication", () => {
  it("closes 1008 when no auth frame arrives in time, having delivered nothing", async () => {
    const c = await openClient(wsUrl(gw));
    await publish(mesh.js, runtimeEvent("edge", 1));
    const t0 = Date.now();
    const closed = await c.closed;
    expect(closed).toEqual({ code: 1008, reason: "authentication timeout" });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(c.frames).toEqual([]);
  });

  it("refuses other frames before authentication and an invalid token with 1008", async () => {
    const c = await openClient(wsUrl(gw));
    c.send({ type: "subscribe", id: "x", topics: ["*"] });
    const err = await c.next((f) => f.type === "error");
    expect(err).toMatchObject({ id: "x", code: "unauthenticated" });
    c.send({ type: "auth", token: "ep_not_a_key" });
    expect(await c.closed).toEqual({ code: 1008, reason: "invalid credentials" });
    expect(c.events()).toEqual([]);
  });

  it("accepts an API key header on the upgrade, and answers ping and bad frames", async () => {
    const c = await openClient(wsUrl(gw), { headers: { "x-api-key": mesh.ownerKey } });
    await c.next((f) => f.type === "ack" && f.op === "auth");
    c.send({ type: "ping", id: "p" });
    expect(await c.next((f) => f.type === "pong")).toMatchObject({ id: "p" });
    c.send({ type: "subscribe", id: "bad", topics: ["haproxy.$"] });
    const err = await c.next((f) => f.type === "error" && f.id === "bad");
    expect(err.code).toBe("validation_failed");
    c.ws.send("not json");
    await c.next((f) => f.type === "error" && f.code === "bad_request");
    c.send({ type: "subscribe", id: "ok", topics: ["haproxy.*"] });
    await c.next((f) => f.type === "ack" && f.id === "ok");
    const e = await publish(mesh.js, runtimeEvent("edge", 2));
    await c.next((f) => f.type === "event" && f.seq === e.seq);
    await c.close();
  });
});

describe("events - websocket caps", () => {
  it("closes the 4th connection of one user with 1013 (cap 3 on this gateway)", async () => {
    const ok: Client[] = [];
    for (let i = 0; i < 3; i++) ok.push(await subscribed(wsUrl(gw), mesh.ownerKey, ["*"]));
    const fourth = await openClient(wsUrl(gw));
    fourth.send({ type: "auth", token: mesh.ownerKey });
    expect(await fourth.closed).toEqual({ code: 1013, reason: "too many connections for this user (3)" });
    // The three keep working.
    const e = await publish(mesh.js, runtimeEvent("edge", 3));
    for (const c of ok) await c.next((f) => f.type === "event" && f.seq === e.seq);
    for (const c of ok) await c.close();
    await waitFor(async () => (await stats(gw)).connections === 0);
  });

  it("closes connections beyond the gateway's cap with 1013 (cap 4 on this gateway)", async () => {
    const held: Client[] = [];
    for (let i = 0; i < 4; i++)
      held.push(await openClient(wsUrl(tight), { headers: { "x-api-key": mesh.ownerKey } }));
    const over = await openClient(wsUrl(tight), { headers: { "x-api-key": mesh.ownerKey } });
    expect(await over.closed).toEqual({ code: 1013, reason: "gateway connection limit reached (4)" });
    expect(over.frames).toEqual([]);
    for (const c of held) await c.close();
  });

  it("closes a connection subscribing to more than 200 topics with 1013", async () => {
    const c = await subscribed(
      wsUrl(gw),
      mesh.ownerKey,
      Array.from({ length: 150 }, (_, i) => `haproxy.t${i}`),
    );
    c.send({
      type: "subscribe",
      id: "more",
      topics: Array.from({ length: 50 }, (_, i) => `wireguard.t${i}`),
    });
    const ack = await c.next((f) => f.type === "ack" && f.id === "more");
    expect((ack.topics as string[]).length).toBe(200);
    c.send({ type: "subscribe", id: "over", topics: ["adapters.change.applied"] });
    expect(await c.closed).toEqual({
      code: 1013,
      reason: "subscription limit exceeded (200 per connection)",
    });
  });
});

describe("events - websocket liveness and slow consumers", () => {
  it("terminates a connection that stops answering heartbeats", async () => {
    await waitFor(async () => (await stats(beat)).connections === 0);
    const c = await openClient(wsUrl(beat), { headers: { "x-api-key": mesh.ownerKey } });
    await c.next((f) => f.type === "ack" && f.op === "auth");
    await new Promise((r) => setTimeout(r, 2_500)); // two heartbeats: pongs flow, still connected
    expect((await stats(beat)).connections).toBe(1);
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // stops reading pings
    // Missed pong → terminated at the second tick after the pause (≤ 2 s), not later.
    const paused = Date.now();
    await waitFor(async () => (await stats(beat)).connections === 0, { timeout: 6_000 });
    expect(Date.now() - paused).toBeLessThan(3_500);
    await c.close();
  });

  it("closes a client that does not read with 1013 once its bounded buffer is full", async () => {
    await waitFor(async () => (await stats(tight)).connections === 0);
    const slow = await subscribed(wsUrl(tight), mesh.ownerKey, ["haproxy.cert.*"]);
    const fast = await subscribed(wsUrl(tight), mesh.ownerKey, ["haproxy.cert.*"]);
    const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    // ~25 KB events: the kernel's socket buffers fill, then the gateway's 64 KiB cap.
    const domains = Array.from({ length: 100 }, (_, i) => `${"x".repeat(240)}${i}.example.com`);
    let last = 0;
    for (let round = 0; round < 40 && (await stats(tight)).connections > 1; round++) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          publish(mesh.js, {
            type: "haproxy.cert.updated",
            resource: { kind: "cluster", name: "edge" },
            data: { name: `c${round}-${i}.pem`, domains },
          }),
        ),
      );
      last = Math.max(last, ...batch.map((b) => b.seq));
    }
    expect((await stats(tight)).connections).toBe(1);
    // The reader that keeps up got everything.
    await fast.next((f) => f.type === "event" && f.seq === last, 15_000);
    socket.resume();
    expect(await slow.closed).toEqual({ code: 1013, reason: "slow consumer: send buffer full" });
    await fast.close();
  });
});
