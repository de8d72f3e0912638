/**
 * mesh - two instances of a service in one queue group: SIGTERM one in the middle of a
 * burst of requests through the gateway, and not one request fails (it drains: stops
 * taking new requests, answers the ones it has, then exits).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authDatabase, type ServiceProcess, spawnService, startNats } from "../harness/mod.ts";

const disposers: Array<() => Promise<unknown>> = [];
let gateway: ServiceProcess;
let authA: ServiceProcess;
let authB: ServiceProcess;

beforeAll(async () => {
  const nats = await startNats({ jetstream: true });
  disposers.push(() => nats.stop());
  const db = await authDatabase();
  disposers.push(() => db[Symbol.asyncDispose]());
  const env = { EP_NATS_URL: nats.url, DATABASE_URL: db.url };
  authA = await spawnService("auth", env, { instance: "auth-a" });
  authB = await spawnService("auth", env, { instance: "auth-b" });
  disposers.push(
    () => authA.stop(),
    () => authB.stop(),
  );
  gateway = await spawnService("gateway", { EP_NATS_URL: nats.url });
  disposers.push(() => gateway.stop());
});

afterAll(async () => {
  for (const d of disposers.reverse()) await d().catch(() => undefined);
});

describe("mesh - queue group and drain", () => {
  it("loses no request when one of two instances is stopped mid-burst", async () => {
    const total = 3000;
    const concurrency = 32;
    let sent = 0;
    let ok = 0;
    const failures: string[] = [];
    const stopAt = Math.floor(total / 3);
    let stopped: Promise<number | null> | undefined;
    const worker = async () => {
      while (sent < total) {
        const n = ++sent;
        if (n === stopAt) stopped = authA.stop("SIGTERM");
        try {
          const r = await fetch(`${gateway.url}/api/v1/setup/status`);
          const body = await r.text();
          if (r.status === 200) ok++;
          else failures.push(`${r.status} ${body}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    expect(failures).toEqual([]);
    expect(ok).toBe(total);
    expect(await stopped).toBe(0);
    // The stopped instance drained (and exited 0, above); the survivor still serves.
    expect(authA.output()).toContain("draining");
    const served = await fetch(`${gateway.url}/api/v1/setup/status`);
    expect(served.status).toBe(200);
  });
});
