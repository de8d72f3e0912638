/**
 * gateway - idempotent reads are retried once when the instance holding them is lost
 * (a NATS timeout), writes never are. A real gateway and NATS; the "service" swallows
 * the first request it gets on each subject, as an instance killed mid-request would.
 */
import { connectNats, defineRoute } from "@edgeplane/proto";
import { startNats } from "@edgeplane/test";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadConfig } from "../config.ts";
import { type RunningGateway, startGateway } from "../server.ts";

const common = { tags: ["t"], auth: "public", reply: z.object({ n: z.number() }), timeoutMs: 300 } as const;
const readRoute = defineRoute({
  ...common,
  id: "t.read",
  method: "GET",
  path: "/api/v1/t/read",
  summary: "r",
  subject: "ep.v1.t.read",
});
const writeRoute = defineRoute({
  ...common,
  id: "t.write",
  method: "POST",
  path: "/api/v1/t/write",
  summary: "w",
  subject: "ep.v1.t.write",
});
const flaggedRoute = defineRoute({
  ...common,
  id: "t.flagged",
  method: "GET",
  path: "/api/v1/t/flagged",
  summary: "a GET that changes state",
  subject: "ep.v1.t.flagged",
  mutation: true,
});

const cleanup: Array<() => Promise<unknown>> = [];
const deliveries = new Map<string, number>();
let gw: RunningGateway;
let nc: NatsConnection;

beforeAll(async () => {
  const nats = await startNats({ jetstream: true });
  cleanup.push(() => nats.stop());
  nc = await connectNats({ servers: nats.url, name: "t" });
  cleanup.push(() => nc.drain());
  // A responder that "dies" with the first request of each subject: never answers it.
  nc.subscribe("ep.v1.t.>", {
    queue: "q",
    callback: (_err, msg) => {
      const n = (deliveries.get(msg.subject) ?? 0) + 1;
      deliveries.set(msg.subject, n);
      if (n === 1) return;
      msg.respond(JSON.stringify({ ok: true, data: { n } }));
    },
  });
  await nc.flush();
  gw = await startGateway(loadConfig({ EP_NATS_URL: nats.url, EP_HTTP_PORT: "0", EP_LOG_LEVEL: "silent" }), [
    readRoute,
    writeRoute,
    flaggedRoute,
  ]);
  cleanup.push(() => gw.stop());
});

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
});

describe("gateway - retry of idempotent reads", () => {
  it("retries a GET that timed out, once, and answers from the second delivery", async () => {
    const r = await fetch(`${gw.url}/api/v1/t/read`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ n: 2 });
    expect(deliveries.get("ep.v1.t.read")).toBe(2);
  });

  it("never retries a write: the caller gets the 504", async () => {
    const r = await fetch(`${gw.url}/api/v1/t/write`, { method: "POST" });
    expect(r.status).toBe(504);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("upstream_timeout");
    expect(deliveries.get("ep.v1.t.write")).toBe(1);
  });

  it("never retries a GET flagged as a mutation", async () => {
    const r = await fetch(`${gw.url}/api/v1/t/flagged`);
    expect(r.status).toBe(504);
    expect(deliveries.get("ep.v1.t.flagged")).toBe(1);
  });
});
