/**
 * setup - several auth replicas at first start: the second instance must not replace the
 * token the first one printed, and a token supplied by the deployment (EP_SETUP_TOKEN,
 * e.g. from a Kubernetes Secret) is the one that works.
 */
import { readFile, stat } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { authDatabase, spawnService, startNats, tmpDir } from "../harness/mod.ts";

const disposers: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const d of disposers.reverse()) await d().catch(() => undefined);
});

async function mesh(authEnvs: Array<Record<string, string>>) {
  const nats = await startNats({ jetstream: true });
  disposers.push(() => nats.stop());
  const db = await authDatabase();
  disposers.push(() => db[Symbol.asyncDispose]());
  const auths = [];
  for (const env of authEnvs) {
    const a = await spawnService("auth", { EP_NATS_URL: nats.url, DATABASE_URL: db.url, ...env });
    disposers.push(() => a.stop());
    auths.push(a);
  }
  const gateway = await spawnService("gateway", { EP_NATS_URL: nats.url });
  disposers.push(() => gateway.stop());
  const complete = (token: string) =>
    fetch(`${gateway.url}/api/v1/setup/complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, username: "owner", password: "correct horse battery staple" }),
    });
  return { auths, complete };
}

describe("setup - replicas and supplied tokens", () => {
  it("a second instance keeps the token the first one issued", async () => {
    await using dir = await tmpDir("ep-setup-rep-");
    const { auths, complete } = await mesh([
      { EP_SETUP_TOKEN_FILE: `${dir.path}/a-token` },
      { EP_SETUP_TOKEN_FILE: `${dir.path}/b-token` },
    ]);
    const token = (await readFile(`${dir.path}/a-token`, "utf8")).trim();
    await expect(stat(`${dir.path}/b-token`)).rejects.toThrow();
    expect(auths[1]?.output()).toContain("another auth instance issued the setup token");
    expect((await complete(token)).status).toBe(201);
  });

  it("EP_SETUP_TOKEN is the token, on every instance", async () => {
    const supplied = "supplied-by-the-deployment-0123456789";
    const { complete } = await mesh([{ EP_SETUP_TOKEN: supplied }, { EP_SETUP_TOKEN: supplied }]);
    expect((await complete("some-other-token-value-0000")).status).toBe(403);
    expect((await complete(supplied)).status).toBe(201);
  });
});
