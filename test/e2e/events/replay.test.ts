/**
 * events - replay with `since`: reconnecting with the last sequence seen yields exactly
 * the events missed, in order, then live ones — with neither a gap nor a duplicate at the
 * seam, also while events keep arriving during the replay. Gateway A replays from its
 * in-memory ring, gateway B (ring disabled) from JetStream with an ordered consumer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceProcess } from "../../harness/mod.ts";
import { type Mesh, openClient, publish, runtimeEvent, startMesh, subscribed, wsUrl } from "./helpers.ts";

let mesh: Mesh;
let ringGw: ServiceProcess;
let jsGw: ServiceProcess;

beforeAll(async () => {
  mesh = await startMesh({ gateways: 1 });
  ringGw = mesh.gateways[0] as ServiceProcess;
  jsGw = await mesh.addGateway({ EP_WS_RING_SIZE: "0" });
});
afterAll(async () => {
  await mesh?.stop();
});

const peerEvent = (n: number) =>
  ({
    type: "wireguard.peer.created",
    resource: { kind: "interface", name: "wg0" },
    data: { peer_id: `peer_${n}`, name: `p${n}` },
  }) as const;

describe.each([
  ["ring", () => ringGw],
  ["jetstream", () => jsGw],
])("events - replay from %s", (_name, gw) => {
  it("reconnect with since: exactly the 100 missed events, in order, then live ones", async () => {
    const url = wsUrl(gw());
    const first = await subscribed(url, mesh.ownerKey, ["haproxy.*"]);
    const warm = await publish(mesh.js, runtimeEvent("edge", -1));
    const seen = await first.next((f) => f.type === "event" && f.seq === warm.seq);
    await first.close();

    const missed: number[] = [];
    for (let i = 0; i < 100; i++) {
      missed.push((await publish(mesh.js, runtimeEvent("edge", i))).seq);
      // Events of other topics in between must not be replayed.
      if (i % 10 === 0) await publish(mesh.js, peerEvent(i));
    }
    const again = await subscribed(url, mesh.ownerKey, ["haproxy.*"], seen.seq as number);
    const done = await again.next((f) => f.type === "ack" && f.op === "replayed");
    expect(done.count).toBe(100);
    const live = await publish(mesh.js, runtimeEvent("edge", 1000));
    await again.next((f) => f.type === "event" && f.seq === live.seq);
    expect(again.events().map((f) => f.seq)).toEqual([...missed, live.seq]);
    await again.close();
  });

  it("no gap and no duplicate at the seam while events keep arriving", async () => {
    const url = wsUrl(gw());
    const base = (await publish(mesh.js, runtimeEvent("seam", 0))).seq;
    const published: number[] = [];
    for (let i = 1; i <= 300; i++) published.push((await publish(mesh.js, runtimeEvent("seam", i))).seq);
    // Keep publishing while the client subscribes and replays.
    let stop = false;
    const producer = (async () => {
      for (let i = 301; !stop && i < 3000; i++) {
        published.push((await publish(mesh.js, runtimeEvent("seam", i))).seq);
      }
    })();
    const c = await subscribed(url, mesh.ownerKey, ["haproxy.runtime.changed"], base);
    await c.next((f) => f.type === "ack" && f.op === "replayed");
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await producer;
    const last = published[published.length - 1] as number;
    await c.next((f) => f.type === "event" && f.seq === last);
    const got = c.events().map((f) => f.seq as number);
    expect(got.length).toBeGreaterThan(300);
    expect(got).toEqual(published);
    await c.close();
  });
});

describe("events - replay details", () => {
  it("replays only events of the new topics and reports where live delivery starts", async () => {
    const url = wsUrl(ringGw);
    const s0 = (await publish(mesh.js, runtimeEvent("mix", 0))).seq;
    const p1 = (await publish(mesh.js, peerEvent(1))).seq;
    await publish(mesh.js, runtimeEvent("mix", 1));
    const c = await subscribed(url, mesh.ownerKey, ["wireguard.peer.*"], s0);
    const ack = c.frames.find((f) => f.type === "ack" && f.op === "subscribe");
    expect(ack?.live_from).toBeGreaterThan(p1);
    await c.next((f) => f.type === "ack" && f.op === "replayed");
    expect(c.events().map((f) => f.seq)).toEqual([p1]);
    await c.close();
  });

  it("a subscribe without since is live from the subscribe, not from when the socket opened", async () => {
    const url = wsUrl(ringGw);
    const watcher = await subscribed(url, mesh.ownerKey, ["*"]);
    // Connected and authenticated, not yet subscribed, while an event reaches the gateway.
    const late = await openClient(url);
    late.send({ type: "auth", token: mesh.ownerKey });
    await late.next((f) => f.type === "ack" && f.op === "auth");
    const before = (await publish(mesh.js, runtimeEvent("early", 0))).seq;
    await watcher.next((f) => f.type === "event" && f.seq === before);
    late.send({ type: "subscribe", id: "s1", topics: ["*"] });
    const ack = await late.next((f) => f.type === "ack" && f.op === "subscribe");
    expect(ack.live_from).toBeGreaterThan(before);
    const after = (await publish(mesh.js, runtimeEvent("early", 1))).seq;
    await late.next((f) => f.type === "event" && f.seq === after);
    expect(late.events().map((f) => f.seq)).toEqual([after]);
    for (const c of [watcher, late]) await c.close();
  });
});
