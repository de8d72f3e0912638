/**
 * auth audit durability — 10,000 audited mutations (a real service publishing to AUDIT
 * before replying) while every auth instance is SIGKILLed and a new one started later:
 * all 10,000 rows end up in the table exactly once, in stream order, and the chain
 * verifies. Two instances run at first: only one appends (the election).
 */

import {
  buildAuditEvent,
  call,
  connectNats,
  createLogger,
  createService,
  publishAudit,
  Streams,
} from "@edgeplane/proto";
import { jetstream } from "@nats-io/jetstream";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { waitFor } from "../../harness/mod.ts";
import { type AuthMesh, bearer, client, startAuthMesh } from "./mesh.ts";

const TOTAL = 10_000;
let mesh: AuthMesh;
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  mesh = await startAuthMesh({ authEnv: { EP_AUDIT_BATCH: "200" } });
  await mesh.startAuth();
});
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  await mesh?.dispose();
});

async function count(db: pg.Client, action: string): Promise<number> {
  return Number(
    (await db.query<{ n: string }>("SELECT count(*) AS n FROM audit_log WHERE action = $1", [action])).rows[0]
      ?.n,
  );
}

describe("audit - durability", () => {
  it("loses nothing and keeps order when auth is killed mid-burst", async () => {
    const nc = await connectNats({ servers: mesh.nats.url, name: "mutator" });
    cleanup.push(() => nc.drain());
    const js = jetstream(nc);
    const svc = await createService(nc, {
      name: "ep-test-mutator",
      version: "0.0.0",
      log: createLogger("t", "silent"),
    });
    cleanup.push(() => svc.stop());
    svc.endpoint("mutate", { subject: "ep.v1.t.mutate" }, z.object({ i: z.number() }), async (req, ctx) => {
      await publishAudit(
        js,
        buildAuditEvent(
          { action: "t.mutate", category: "test", result: "success", summary: { i: req.i } },
          ctx,
        ),
      );
      return { ok: true };
    });

    const db = new pg.Client({ connectionString: mesh.db.url });
    await db.connect();
    cleanup.push(() => db.end());

    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        await call(nc, "ep.v1.t.mutate", { i }, { requestId: `req_${i}` });
        done++;
      }
    };
    const workers = Promise.all(Array.from({ length: 32 }, worker));

    // Kill every auth instance once some rows are in; the mutations go on.
    await waitFor(async () => (await count(db, "t.mutate")) >= 1500, { timeout: 30_000, interval: 20 });
    for (const a of mesh.auth) await a.stop("SIGKILL");
    const atKill = await count(db, "t.mutate");
    await waitFor(() => done >= TOTAL * 0.6 || undefined, { timeout: 60_000 });
    expect(await count(db, "t.mutate")).toBe(atKill); // nobody appends while auth is down
    await mesh.startAuth();
    await workers;
    await waitFor(async () => ((await count(db, "t.mutate")) >= TOTAL ? true : undefined), {
      timeout: 60_000,
      interval: 100,
    });
    expect(await count(db, "t.mutate")).toBe(TOTAL);

    // Exactly the stream's order.
    const table = (
      await db.query<{ event_id: string }>("SELECT event_id FROM audit_log ORDER BY seq")
    ).rows.map((r) => r.event_id);
    const stream: string[] = [];
    const oc = await js.consumers.get(Streams.AUDIT.name);
    const info = await (await import("@nats-io/jetstream"))
      .jetstreamManager(nc)
      .then((m) => m.streams.info(Streams.AUDIT.name));
    while (stream.length < info.state.messages) {
      const it = await oc.fetch({ max_messages: 1000, expires: 1000 });
      for await (const m of it) stream.push((m.json() as { id: string }).id);
    }
    expect(table).toEqual(stream.slice(0, table.length));
    expect(new Set(table).size).toBe(table.length);
    const is = (
      await db.query<{ summary: string }>("SELECT summary FROM audit_log WHERE action = 't.mutate'")
    ).rows.map((r) => (JSON.parse(r.summary) as { i: number }).i);
    expect(new Set(is).size).toBe(TOTAL);

    const v = await client(mesh.url, bearer(mesh.owner.key))<{ ok: boolean; checked: number }>(
      "GET",
      "/api/v1/audit/verify",
    );
    expect(v.body.ok).toBe(true);
    expect(v.body.checked).toBe(table.length);
  });
});
