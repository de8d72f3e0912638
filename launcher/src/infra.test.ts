// Real nats-server and embedded PostgreSQL, on ephemeral ports, in temp dirs, disposed.
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "./log.ts";
import { hasJetStream, startNats } from "./nats.ts";
import { startEmbeddedPostgres } from "./postgres.ts";
import { createSupervisor, type Supervisor } from "./supervisor.ts";

let dir: string;
let sup: Supervisor;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ep-infra-"));
  sup = createSupervisor({ out: new PassThrough() });
});
afterEach(async () => {
  await Promise.all(sup.children.map((c) => c.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe("infra", () => {
  it("nats - starts nats-server with JetStream on a free port, never 4222, and stops it", async () => {
    const nats = await startNats(sup, { bin: "nats-server", dataDir: dir, log: silentLogger });
    const port = Number(new URL(nats.url).port);
    expect(port).not.toBe(4222);
    expect(await hasJetStream(port)).toBe(true);
    expect(existsSync(join(dir, "nats", "jetstream"))).toBe(true);
    await nats.child.stop();
    expect(nats.child.running).toBe(false);
    expect(await hasJetStream(port)).toBe(false);
  });

  it("nats - a missing binary is a clear error", async () => {
    await expect(
      startNats(sup, { bin: "/nonexistent/nats-server", dataDir: dir, log: silentLogger }),
    ).rejects.toThrow(/not found: install nats-server/);
  });

  it("postgres - initialises once, creates the database, keeps data across restarts", async () => {
    chmodSync(dir, 0o700); // like $EP_DATA_DIR; startEmbeddedPostgres opens it to the postgres user if needed
    const password = "pw-for-tests_0123456789abcdefghijklmnopq";
    const first = await startEmbeddedPostgres(sup, { dataDir: dir, password, log: silentLogger });
    expect(first.url).toMatch(/^postgres:\/\/postgres:.+@127\.0\.0\.1:\d+\/edgeplane$/);
    let client = new pg.Client({ connectionString: first.url });
    await client.connect();
    await client.query("CREATE TABLE kept (v text)");
    await client.query("INSERT INTO kept VALUES ('still here')");
    await client.end();
    await first.child.stop();

    const initdbRuns = () => sup.children.filter((c) => c.name === "initdb").length;
    expect(initdbRuns()).toBe(1);
    const second = await startEmbeddedPostgres(sup, { dataDir: dir, password, log: silentLogger });
    expect(initdbRuns()).toBe(1); // not initialised again
    client = new pg.Client({ connectionString: second.url });
    await client.connect();
    const { rows } = await client.query("SELECT v FROM kept");
    await client.end();
    expect(rows).toEqual([{ v: "still here" }]);
  });

  it("postgres - a password that does not match the cluster fails fast with an explanation", async () => {
    const a = await startEmbeddedPostgres(sup, { dataDir: dir, password: "right", log: silentLogger });
    await a.child.stop();
    const t0 = Date.now();
    await expect(
      startEmbeddedPostgres(sup, { dataDir: dir, password: "wrong", log: silentLogger }),
    ).rejects.toThrow(/rejected the password from secrets\.json/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});
