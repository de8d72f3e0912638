import { StateDocument } from "@edgeplane/proto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats } from "../../../test/harness/nats.ts";
import { waitFor } from "../../../test/harness/wait.ts";
import { publishAbandon, publishCandidate, RemotePrepare } from "./cluster-prepare.ts";
import { type Rendered, render } from "./render.ts";
import { encodeStoredJson, stateSchemaFingerprint } from "./stored-codec.ts";

let nats: Awaited<ReturnType<typeof startNats>>;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const opts = {
  runDir: "/tmp/ep-x",
  mapDir: "/tmp/ep-x/maps",
  certDir: "/tmp/ep-x",
  portOffset: 0,
  noreuseport: true,
};
const doc = (backends: number) =>
  StateDocument.parse({
    backends: Array.from({ length: backends }, (_, i) => ({
      name: `b${i}`,
      servers: [{ name: "s1", address: "127.0.0.1", port: 10_000 + i }],
    })),
  });
/** A KV value as the commit writes it: `{"state":<docJson>,<meta>}`, compressed when large. */
const value = (docJson: string, fingerprint = stateSchemaFingerprint()) =>
  encodeStoredJson(
    `{"state":${docJson},${JSON.stringify({
      committed_at: "2026-12-07T00:00:00.000Z",
      committed_by: "admin",
      comment: null,
      restored_from: null,
      request_id: null,
      doc_hash: "x",
      schema_fingerprint: fingerprint,
    }).slice(1)}`,
  );

describe("haproxy-agent/cluster-prepare", () => {
  it("haproxy-agent/cluster-prepare - another agent's candidate is rendered and prepared here; the committed value is recognised by its bytes, anything else is not", async () => {
    const prepared: Rendered[] = [];
    const discarded: Rendered[] = [];
    const remote = new RemotePrepare(
      nc,
      "c1",
      "agent-b",
      (state) => {
        const r = render(state, opts);
        prepared.push(r);
        return r;
      },
      (r) => discarded.push(r),
      (err) => {
        throw err;
      },
    );
    try {
      // Its own candidates are not prepared for again.
      await publishCandidate(nc, "c1", "agent-b", JSON.stringify(doc(1)));
      // Large (gzip) and small (plain) documents.
      for (const n of [2, 600]) {
        const docJson = JSON.stringify(doc(n));
        await publishCandidate(nc, "c1", "agent-a", docJson);
        await waitFor(async () => (prepared.length === (n === 2 ? 1 : 2) ? true : undefined));
        // Another document, or the same one written by another schema: decoded as usual.
        expect(await remote.match(await value(JSON.stringify(doc(n + 1))))).toBeNull();
        expect(await remote.match(await value(docJson, "other-schema"))).toBeNull();
        const m = await remote.match(await value(docJson));
        expect(m?.stored.state).toEqual(doc(n));
        expect(m?.stored.committed_by).toBe("admin");
        expect(m?.rendered).toBe(prepared.at(-1));
        expect(m?.rendered.cfg).toBe(render(doc(n), opts).cfg);
        // Used once.
        expect(await remote.match(await value(docJson))).toBeNull();
      }
      // A candidate whose commit is abandoned is discarded (its file goes).
      await publishCandidate(nc, "c1", "agent-a", JSON.stringify(doc(3)));
      await waitFor(async () => (prepared.length === 3 ? true : undefined));
      publishAbandon(nc, "c1", "agent-c"); // not its candidate
      publishAbandon(nc, "c1", "agent-a");
      await waitFor(async () => (discarded.length === 1 ? true : undefined));
      expect(discarded[0]).toBe(prepared[2]);
      expect(await remote.match(await value(JSON.stringify(doc(3))))).toBeNull();
    } finally {
      remote.stop();
    }
  });
});
