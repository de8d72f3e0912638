import { HaproxySubjects, StateDocument } from "@edgeplane/proto";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats } from "../../../test/harness/nats.ts";
import { ClusterStore, type StoredState } from "./store.ts";
import { encodeStoredJson } from "./stored-codec.ts";

let nats: Awaited<ReturnType<typeof startNats>>;
let nc: Awaited<ReturnType<typeof connect>>;
let store: ClusterStore;

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  nc = await connect({ servers: nats.url });
  store = await ClusterStore.open(nc, jetstream(nc), { replicas: 1, keep: 50, maxAgeDays: 1 });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const stored = (backends: number): StoredState => ({
  state: StateDocument.parse({
    backends: Array.from({ length: backends }, (_, i) => ({
      name: `b${i}`,
      servers: [{ name: "s1", address: "127.0.0.1", port: 10_000 + i }],
    })),
  }),
  committed_at: new Date().toISOString(),
  committed_by: "admin",
  comment: null,
  restored_from: null,
  request_id: null,
});

describe("haproxy-agent/store snapshots", () => {
  it("haproxy-agent/store - a snapshot is the KV value's own bytes; the revision comes from the subject, or from the JSON of an older agent's snapshot", async () => {
    // Small (plain JSON) and large (gzip) values, both as the commit encoded them.
    const small = await store.commit("c1", stored(2), 0);
    await store.putSnapshot("c1", small.revision, stored(2), small.data);
    const big = await store.commit("c1", stored(500), small.revision);
    expect(big.data[0]).toBe(0x1f); // gzip
    await store.putSnapshot("c1", big.revision, stored(500), big.data);
    // What an agent before this change stored: `{"revision":N,…}`, its own encoding.
    const old = stored(3);
    await jetstream(nc).publish(
      `${HaproxySubjects.snapshot("c1")}.7`,
      await encodeStoredJson(JSON.stringify({ revision: 7, ...old })),
    );
    const all = await store.listSnapshots("c1");
    expect(all.map((s) => [s.revision, s.state.backends.length])).toEqual([
      [small.revision, 2],
      [big.revision, 500],
      [7, 3],
    ]);
    const got = await store.getSnapshot("c1", big.revision);
    expect(got?.revision).toBe(big.revision);
    expect(got?.state.backends[499]?.name).toBe("b499");
    expect((await store.getSnapshot("c1", 7))?.revision).toBe(7);
    // A snapshot repaired without the commit's bytes encodes the stored value itself.
    await store.putSnapshot("c1", 9, stored(1));
    expect((await store.getSnapshot("c1", 9))?.state.backends.length).toBe(1);
  });
});
