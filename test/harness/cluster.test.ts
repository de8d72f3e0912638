/**
 * harness - the 3-node NATS cluster: routes up, JetStream clustered (an R3 stream and an
 * R3 KV bucket), a killed node's data still served by the other two, and the node
 * rejoining on restart and catching up with what it missed.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsCluster, startNatsCluster } from "./cluster.ts";
import { waitFor } from "./wait.ts";

let cluster: NatsCluster;
let nc: NatsConnection;

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connect({ servers: cluster.urls.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
});
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

describe("harness - NATS cluster", () => {
  it("routes three nodes together and replicates JetStream three ways", async () => {
    expect(cluster.nodes.map((n) => n.name)).toEqual(["n1", "n2", "n3"]);
    for (const n of cluster.nodes) {
      const routez = (await (await fetch(`http://127.0.0.1:${n.monitorPort}/routez`)).json()) as {
        num_routes: number;
      };
      expect(routez.num_routes, n.name).toBeGreaterThanOrEqual(2);
    }
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.add({ name: "T", subjects: ["t.>"], num_replicas: 3 });
    expect(info.config.num_replicas).toBe(3);
    await waitFor(async () => ((await jsm.streams.info("T")).cluster?.replicas?.length ?? 0) === 2);
  });

  it("keeps an R3 stream and KV bucket available with a node down, and the node rejoins", async () => {
    const js = jetstream(nc);
    const kv = await new Kvm(nc).create("cfg", { replicas: 3 });
    await kv.put("a", "1");
    await js.publish("t.x", "before");

    // Kill the stream's leader: the hardest case (a new leader must be elected).
    const jsm = await jetstreamManager(nc);
    const leader = (await jsm.streams.info("T")).cluster?.leader;
    const victim =
      cluster.nodes.find((n) => n.name === leader) ?? (cluster.nodes[0] as (typeof cluster.nodes)[0]);
    await victim.kill();
    expect(victim.running()).toBe(false);

    await waitFor(() => js.publish("t.x", "during").then(() => true), { timeout: 15_000 });
    expect((await waitFor(() => kv.get("a"), { timeout: 15_000 }))?.string()).toBe("1");
    await waitFor(() => kv.put("b", "2").then(() => true), { timeout: 15_000 });

    await victim.start();
    expect(await victim.healthy()).toBe(true);
    // Its replica catches up: every peer current again.
    await waitFor(
      async () => {
        const c = (await jsm.streams.info("T")).cluster;
        return (c?.replicas ?? []).length === 2 && (c?.replicas ?? []).every((p) => p.current);
      },
      { timeout: 15_000, message: "stream replicas current" },
    );
    expect((await jsm.streams.info("T")).state.messages).toBeGreaterThanOrEqual(2);
  });
});
