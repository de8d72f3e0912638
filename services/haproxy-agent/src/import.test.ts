/**
 * haproxy-agent import — round trip over the corpus of real HAProxy configurations
 * (`../shared/fixtures/haproxy-configs`): every file that passes `haproxy -c` imports,
 * renders back, passes `haproxy -c` again, is semantically equivalent (`semantic.ts`
 * defines the comparison) and re-imports to the same rendering.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TmpDir, tmpDir } from "../../../test/harness/mod.ts";
import { validateDocument } from "./check.ts";
import { importConfig } from "./import.ts";
import { type RenderOptions, render } from "./render.ts";
import { compareModels, semanticModel } from "./semantic.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const CORPUS = join(repoRoot, "..", "shared", "fixtures", "haproxy-configs");
if (!existsSync(CORPUS)) {
  throw new Error(`fixture corpus not found at ${CORPUS}: check out shared/ beside the repository`);
}
const files = readdirSync(CORPUS)
  .filter((f) => f.endsWith(".cfg"))
  .sort();

const passes = (file: string) =>
  new Promise<boolean>((resolve) =>
    execFile("haproxy", ["-c", "-q", "-f", join(CORPUS, file)], { cwd: CORPUS }, (err) => resolve(!err)),
  );

let dir: TmpDir;
let opts: RenderOptions;
const valid = new Map<string, boolean>();
beforeAll(async () => {
  dir = await tmpDir("ep-import-");
  opts = {
    runDir: dir.path,
    mapDir: join(dir.path, "maps"),
    certDir: join(dir.path, "certs"),
    portOffset: 0,
    noreuseport: false,
  };
  for (const f of files) valid.set(f, await passes(f));
});
afterAll(() => dir[Symbol.asyncDispose]());

describe("haproxy-agent import - corpus round trip", () => {
  it("has a corpus with files haproxy accepts", () => {
    expect(files.length).toBeGreaterThan(40);
    expect([...valid.values()].filter(Boolean).length).toBeGreaterThan(25);
  });

  for (const f of files) {
    it(`round-trips ${f} (when haproxy -c accepts it)`, async () => {
      if (!valid.get(f)) {
        // Not valid for this haproxy: import still answers, and every problem is located.
        const r = importConfig(readFileSync(join(CORPUS, f), "utf8"));
        for (const i of r.issues) expect(i.field.length > 0 && i.message.length > 0).toBe(true);
        return;
      }
      const src = readFileSync(join(CORPUS, f), "utf8");
      const r = importConfig(src);
      expect(r.issues, f).toEqual([]);
      const v = await validateDocument("haproxy", r.state, opts);
      expect(v.valid, v.output).toBe(true);
      const out = v.rendered.cfg;
      expect(compareModels(semanticModel(src), semanticModel(out)), f).toEqual([]);
      const again = importConfig(out);
      expect(render(again.state, { ...opts, mapDir: join(dir.path, "maps") }).cfg).toBe(
        render(r.state, { ...opts, mapDir: join(dir.path, "maps") }).cfg,
      );
    });
  }
});

describe("haproxy-agent import - behaviour", () => {
  it("structures what it understands and keeps the rest verbatim in advanced", () => {
    const r = importConfig(
      [
        "global",
        "  daemon",
        "  maxconn 4000",
        "  stats socket /var/run/haproxy.sock level admin",
        "  lua-load /etc/haproxy/x.lua",
        "defaults",
        "  mode http",
        "  timeout client 30s",
        "frontend fe",
        "  bind :8080",
        "  acl api path_beg /api",
        "  http-request set-header X-A 'a b'",
        "  use_backend be if api",
        "  default_backend be",
        "  monitor-uri /up",
        "backend be",
        "  balance hdr(host)",
        "  server s1 10.0.0.1:80 check weight 5",
        "  server s2 10.0.0.2:80 check agent-check",
        "peers mypeers",
        "  peer a 127.0.0.1:1024",
      ].join("\n"),
    );
    expect(r.issues).toEqual([]);
    expect(r.state.global.maxconn).toBe(4000);
    expect(r.dropped.map((d) => d.text)).toEqual([
      "daemon",
      "stats socket /var/run/haproxy.sock level admin",
    ]);
    expect(r.state.advanced?.global).toEqual(["lua-load /etc/haproxy/x.lua"]);
    expect(r.state.frontends[0]?.http_request[0]).toEqual({ action: "set-header", args: ["X-A", "a b"] });
    expect(r.state.frontends[0]?.use_backends).toEqual([{ backend: "be", cond: "if", cond_test: "api" }]);
    expect(r.state.advanced?.frontends.fe).toEqual(["monitor-uri /up"]);
    expect(r.state.backends[0]?.balance).toEqual({ algorithm: "hdr", args: ["host"] });
    // One server could not be structured: both stay raw, in order (server order matters).
    expect(r.state.backends[0]?.servers).toEqual([]);
    expect(r.state.advanced?.backends.be).toEqual([
      "server s1 10.0.0.1:80 check weight 5",
      "server s2 10.0.0.2:80 check agent-check",
    ]);
    expect(r.state.advanced?.sections).toEqual([
      { type: "peers", name: "mypeers", lines: ["peer a 127.0.0.1:1024"] },
    ]);
    expect(r.rawLines.map((l) => l.line)).toEqual([5, 15, 18, 19, 21]);
  });

  it("reports unbalanced quotes with their line", () => {
    const r = importConfig("frontend fe\n  http-request set-header X 'open\n");
    expect(r.issues[0]?.message).toContain("line 2: unbalanced quote");
  });

  it("the comparison notices a real difference", () => {
    const a = "backend b\n  server s1 1.2.3.4:80\n  server s2 1.2.3.5:80\n";
    expect(compareModels(semanticModel(a), semanticModel(a.replace("s2 1.2.3.5", "s2 1.2.3.6")))).not.toEqual(
      [],
    );
    expect(
      compareModels(
        semanticModel(a),
        semanticModel("backend b\n  server s2 1.2.3.5:80\n  server s1 1.2.3.4:80\n"),
      ),
    ).not.toEqual([]);
    expect(
      compareModels(
        semanticModel(a),
        semanticModel("backend b\n  server s1 '1.2.3.4:80'\n  server s2 1.2.3.5:80 # c\n"),
      ),
    ).toEqual([]);
  });
});
