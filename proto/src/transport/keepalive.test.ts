/**
 * transport - a long request stays alive while its handler runs (keepalives), and one whose
 * responder went silent (an instance killed holding it) fails after the liveness bound, not
 * after its whole timeout. Real nats-server; a real `createService` handler.
 */
import { startNats } from "@edgeplane/test";
import { errors, headers, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createLogger } from "../log.ts";
import { connectNats } from "../runtime/nats.ts";
import { Requester } from "./requester.ts";
import { createService } from "./serve.ts";
import { decodeJson, encodeJson } from "./wire.ts";

const cleanup: Array<() => Promise<unknown>> = [];
let nc: NatsConnection;

beforeAll(async () => {
  const nats = await startNats({});
  cleanup.push(() => nats.stop());
  nc = await connectNats({ servers: nats.url, name: "t" });
  cleanup.push(() => nc.close());
  const svc = await createService(nc, {
    name: "ep-keepalive",
    version: "0.0.0",
    log: createLogger("t", "silent"),
  });
  svc.endpoint("slow", { subject: "t.slow" }, z.object({ ms: z.number() }), async (r) => {
    await new Promise((resolve) => setTimeout(resolve, r.ms));
    return { slept: r.ms };
  });
  // A responder that takes requests and never answers: an instance killed mid-request.
  nc.subscribe("t.dead", { callback: () => undefined });
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

describe("transport - keepalive", () => {
  it("a handler running longer than the liveness bound answers: keepalives keep the request alive", async () => {
    const r = new Requester(nc);
    const msg = await r.request("t.slow", encodeJson({ ms: 1200 }), {
      timeout: 10_000,
      headers: headers(),
      liveness: 400,
    });
    expect(decodeJson(msg.data)).toEqual({ ok: true, data: { slept: 1200 } });
  });

  it("a silent responder fails after the liveness bound, not the timeout", async () => {
    const r = new Requester(nc);
    const t0 = performance.now();
    const err = await r
      .request("t.dead", encodeJson({}), { timeout: 10_000, headers: headers(), liveness: 400 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(errors.TimeoutError);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("without liveness a request waits its timeout and gets no keepalive", async () => {
    const r = new Requester(nc);
    const msg = await r.request("t.slow", encodeJson({ ms: 300 }), { timeout: 5000, headers: headers() });
    expect(decodeJson(msg.data)).toEqual({ ok: true, data: { slept: 300 } });
  });
});
