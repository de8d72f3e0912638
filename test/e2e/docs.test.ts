/**
 * docs - the gateway serves its OpenAPI document (JSON and YAML, the same document), the
 * short `/api/docs` redirect, and a Swagger UI that really renders in headless Chromium
 * under the gateway's security headers. Real nats-server, gateway in-process.
 *
 * Needs Debian's `chromium` (`apt-get install chromium`); set EP_DOCS_SCREENSHOT to a
 * path to keep the screenshot of the rendered page.
 */
import { copyFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { routes } from "@edgeplane/proto";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../../services/gateway/src/config.ts";
import { type RunningGateway, startGateway } from "../../services/gateway/src/server.ts";
import { type NatsServer, startNats, type TmpDir, tmpDir } from "../harness/mod.ts";

const CHROMIUM = "/usr/bin/chromium";
/** The network is closed here: no first-run, sync, component or background fetches. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let nats: NatsServer;
let gateway: RunningGateway;
let dir: TmpDir;

beforeAll(async () => {
  dir = await tmpDir("ep-docs-");
  nats = await startNats({ jetstream: true });
  gateway = await startGateway(
    loadConfig({ EP_NATS_URL: nats.url, EP_HTTP_PORT: "0", EP_LOG_LEVEL: "silent" }),
    routes,
  );
});

afterAll(async () => {
  await gateway?.stop();
  await nats?.stop();
  await dir?.[Symbol.asyncDispose]();
});

async function openapiJson(): Promise<{
  openapi: string;
  info: { title: string };
  tags: Array<{ name: string }>;
}> {
  const res = await fetch(`${gateway.url}/api/v1/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return res.json() as never;
}

describe("docs - OpenAPI documents", () => {
  it("serves /api/v1/openapi.json as an OpenAPI 3.1 document", async () => {
    const doc = await openapiJson();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBe("edgeplane API");
  });

  it("serves /api/v1/openapi.yaml as the same document", async () => {
    const res = await fetch(`${gateway.url}/api/v1/openapi.yaml`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/yaml/);
    expect(parse(await res.text())).toEqual(await openapiJson());
  });

  it("redirects /api/docs to /api/v1/docs/", async () => {
    const res = await fetch(`${gateway.url}/api/docs`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/api/v1/docs/");
  });
});

describe("docs - Swagger UI in headless Chromium", () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    const found = await stat(CHROMIUM).catch(() => undefined);
    if (!found?.isFile()) {
      throw new Error(`${CHROMIUM} not found: install it with \`apt-get install chromium\``);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("renders the title and at least one operation per tag, with no CSP violation", async () => {
    if (!browser) throw new Error("chromium did not start");
    const tags = (await openapiJson()).tags.map((t) => t.name);
    expect(tags.length).toBeGreaterThan(0);

    const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } });
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on("console", (msg) => {
        if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
      });
      page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
      page.on("requestfailed", (req) =>
        problems.push(`requestfailed: ${req.url()} ${req.failure()?.errorText}`),
      );

      const res = await page.goto(`${gateway.url}/api/v1/docs/`, { waitUntil: "load" });
      expect(res?.status()).toBe(200);
      await page
        .locator(".swagger-ui .info .title")
        .filter({ hasText: "edgeplane API" })
        .waitFor({ timeout: 20_000 });
      for (const tag of tags) {
        const section = page
          .locator(".opblock-tag-section")
          .filter({ has: page.locator(`h3[data-tag="${tag}"]`) });
        await section.locator(".opblock").first().waitFor({ timeout: 10_000 });
        expect(await section.locator(".opblock").count(), `operations under tag ${tag}`).toBeGreaterThan(0);
      }

      const shot = join(dir.path, "swagger-ui.png");
      await page.screenshot({ path: shot, fullPage: true });
      expect((await stat(shot)).size).toBeGreaterThan(10_000);
      if (process.env.EP_DOCS_SCREENSHOT) await copyFile(shot, process.env.EP_DOCS_SCREENSHOT);

      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
