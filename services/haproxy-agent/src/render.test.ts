/**
 * haproxy-agent render — the state document's grammar, cross-references and the renderer:
 * deterministic output, a full-featured document that real haproxy accepts, and a corpus
 * of injection attempts that are either rejected (422 field issues) or rendered as one
 * inert word that haproxy reads back byte for byte.
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { crossCheck, type FieldIssue, StateDocument, type StateDocumentInput } from "@edgeplane/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type TmpDir, tmpDir } from "../../../test/harness/mod.ts";
import { parseHints, validateDocument, withoutRuntimeState } from "./check.ts";
import { quoteArg, type RenderOptions, render } from "./render.ts";

let dir: TmpDir;
let opts: RenderOptions;
beforeAll(async () => {
  dir = await tmpDir("ep-render-");
  opts = {
    runDir: dir.path,
    mapDir: join(dir.path, "maps"),
    certDir: join(dir.path, "certs"),
    portOffset: 0,
    noreuseport: true,
  };
});
afterAll(() => dir[Symbol.asyncDispose]());

export function sampleDoc(port = 18100): StateDocumentInput {
  return {
    global: {
      maxconn: 2000,
      tune: { bufsize: 32768 },
      log: [{ address: "127.0.0.1:514", facility: "local0" }],
      hard_stop_after: "30s",
    },
    defaults: [
      {
        mode: "http",
        log: "global",
        options: ["httplog", "dontlognull"],
        timeouts: { connect: "5s", client: "30s", server: "30s" },
      },
    ],
    acls: [{ name: "host_app", criterion: "hdr(host)", flags: ["-i"], values: ["app.example.com"] }],
    frontends: [
      {
        name: "web",
        binds: [{ address: "127.0.0.1", port }],
        acls: [{ name: "is_api", criterion: "path_beg", values: ["/api"] }],
        http_request: [
          { action: "set-header", args: ["X-Forwarded-Proto", "http"] },
          {
            action: "deny",
            args: ["deny_status", "403"],
            cond: "if",
            cond_test: "{ path_beg /admin } !LOCALHOST",
          },
          { action: "set-header", args: ["X-Host-Class", "%[req.hdr(host),lower,map(@hosts,other)]"] },
        ],
        http_response: [{ action: "del-header", args: ["Server"] }],
        captures: [{ type: "request", header: "Host", length: 64 }],
        use_backends: [
          { backend: "api", cond: "if", cond_test: "is_api" },
          { backend: "app", cond: "if", cond_test: "host_app" },
        ],
        default_backend: "app",
      },
    ],
    backends: [
      {
        name: "app",
        balance: { algorithm: "roundrobin" },
        http_check: {
          uri: "/health",
          version: "HTTP/1.1",
          host: "app.example.com",
          expect: { type: "status", value: "200-399" },
        },
        servers: [
          { name: "a1", address: "127.0.0.1", port: 18201, check: true, weight: 10, inter: "2s" },
          { name: "a2", address: "::1", port: 18202, backup: true },
        ],
      },
      {
        name: "api",
        stick_table: { type: "ip", size: "100k", expire: "30m", store: ["http_req_rate(10s)"] },
        stick: [{ type: "on", pattern: "src" }],
        cookie: { name: "SRV", mode: "insert", options: ["indirect", "nocache"] },
        servers: [
          { name: "p1", address: "localhost", port: 18301, cookie: "p1", maxconn: 100, send_proxy: "v2" },
        ],
      },
    ],
    maps: [{ name: "hosts", entries: [{ key: "app.example.com", value: "app" }] }],
    resolvers: [
      { name: "dns", nameservers: [{ name: "ns1", address: "127.0.0.53" }], hold: { valid: "10s" } },
    ],
    userlists: [
      {
        name: "admins",
        groups: ["ops"],
        users: [{ name: "bob", password: "$5$salt$abcdef0123456789", groups: ["ops"] }],
      },
    ],
  };
}

const parse = (d: StateDocumentInput) => StateDocument.parse(d);

describe("haproxy-agent render - determinism and validity", () => {
  it("renders the same document to byte-identical files (and a JSON copy too)", () => {
    const doc = parse(sampleDoc());
    const a = render(doc, opts);
    const b = render(parse(JSON.parse(JSON.stringify(sampleDoc()))), opts);
    expect(b.cfg).toBe(a.cfg);
    expect(b.hash).toBe(a.hash);
    expect(a.entities).toHaveLength(a.cfg.split("\n").length - 1);
  });

  it("adds what the agent needs: master-worker, admin socket, server-state-file, load-server-state-from-file", () => {
    const { cfg } = render(parse(sampleDoc()), opts);
    expect(cfg).toContain("\n    master-worker\n");
    expect(cfg).toContain(`stats socket ${dir.path}/admin.sock mode 600 level admin expose-fd listeners`);
    expect(cfg).toContain(`server-state-file ${dir.path}/server-state`);
    expect(cfg).toMatch(/defaults\n(.*\n)*? {4}load-server-state-from-file global/);
    expect(cfg).toContain("noreuseport");
  });

  it("haproxy -c checks the document without the runtime state: only the server-state-file line moves", () => {
    const { cfg } = render(parse(sampleDoc()), opts);
    const checked = withoutRuntimeState(cfg, dir.path, "/tmp/ep-hacheck-x");
    expect(checked).not.toContain(`${dir.path}/server-state`);
    expect(checked).toContain("\n    server-state-file /tmp/ep-hacheck-x/server-state\n");
    const a = cfg.split("\n");
    const b = checked.split("\n");
    expect(b).toHaveLength(a.length); // hints keep their line numbers
    expect(b.filter((l, i) => l !== a[i])).toEqual(["    server-state-file /tmp/ep-hacheck-x/server-state"]);
  });

  it("the node-neutral hash ignores node paths and port offsets, and nothing else", () => {
    const doc = parse(sampleDoc());
    const a = render(doc, opts);
    const other: RenderOptions = {
      runDir: "/srv/other-node",
      mapDir: "/srv/other-node/maps",
      certDir: "/etc/other-certs",
      portOffset: 7,
      noreuseport: false,
    };
    const b = render(doc, other);
    expect(b.cfg).not.toBe(a.cfg);
    expect(b.neutralHash).toBe(a.neutralHash);
    const changed = parse({ ...sampleDoc(), global: { ...sampleDoc().global, maxconn: 2001 } });
    expect(render(changed, other).neutralHash).not.toBe(a.neutralHash);
    const moved = parse(sampleDoc(18101));
    expect(render(moved, opts).neutralHash).not.toBe(a.neutralHash);
  });

  it("keeps idle keep-alive connections across reloads on HTTP proxies unless the document decides", () => {
    const base = {
      defaults: [{ mode: "http" as const }],
      frontends: [
        { name: "web", binds: [{ address: "127.0.0.1", port: 18110 }], default_backend: "b" },
        {
          name: "raw",
          mode: "tcp" as const,
          binds: [{ address: "127.0.0.1", port: 18111 }],
          default_backend: "b",
        },
        {
          name: "mine",
          options: ["no idle-close-on-response"],
          binds: [{ address: "127.0.0.1", port: 18112 }],
          default_backend: "b",
        },
      ],
      backends: [{ name: "b", servers: [{ name: "s", address: "127.0.0.1", port: 1 }] }],
    };
    const { cfg } = render(parse(base), opts);
    const section = (name: string) =>
      cfg.split("\nfrontend ")[cfg.split("\nfrontend ").findIndex((s) => s.startsWith(name))];
    expect(section("web")).toContain("option idle-close-on-response");
    expect(section("raw")).not.toContain("idle-close-on-response");
    expect(section("mine")).toContain("\n    no option idle-close-on-response\n");
    expect(section("mine")?.match(/idle-close-on-response/g)).toHaveLength(1);
    expect(cfg).toContain("\n    httpclient.ssl.verify none\n");
    const lua = render(parse({ ...base, advanced: { global: ["lua-load /etc/haproxy/x.lua"] } }), opts);
    expect(lua.cfg).not.toContain("httpclient.ssl.verify none");
  });
  it("a full-featured document passes real haproxy -c", async () => {
    const doc = parse(sampleDoc());
    expect(crossCheck(doc)).toEqual([]);
    const v = await validateDocument("haproxy", doc, opts);
    expect(v.output).not.toContain("ALERT");
    expect(v.valid).toBe(true);
  });

  it("maps haproxy messages back to the entity and field (hints)", async () => {
    const d = sampleDoc();
    d.backends?.[0]?.servers?.push({ name: "ghost", address: "no-such-host.invalid", port: 80 });
    const v = await validateDocument("haproxy", parse(d), opts);
    expect(v.valid).toBe(false);
    const h = v.hints.find((x) => x.severity === "ALERT" && x.entity?.kind === "server");
    expect(h?.entity).toEqual({ kind: "server", name: "app/ghost" });
    expect(h?.field).toBe("backends.0.servers.2");
    expect(h?.line).toBeGreaterThan(0);
    expect(v.output).toContain("no-such-host.invalid");
  });

  it("parses hints without a line by proxy/server name", () => {
    const hints = parseHints(
      "[ALERT]    (1) : config : Proxy 'web': unable to find required use_backend: 'x'.\n[NOTICE]   (1) : haproxy version is 2.6",
      "/x/haproxy.cfg",
      [{ kind: "frontend", name: "web", field: "frontends.0" }],
    );
    expect(hints).toEqual([
      expect.objectContaining({
        severity: "ALERT",
        line: null,
        entity: { kind: "frontend", name: "web" },
        field: "frontends.0",
      }),
    ]);
  });
});

describe("haproxy-agent render - cross references are 422s naming the field", () => {
  const issuesOf = (patch: (d: StateDocumentInput) => void): FieldIssue[] => {
    const d = sampleDoc();
    patch(d);
    return crossCheck(parse(d));
  };
  it("use_backend to a missing backend", () => {
    const i = issuesOf((d) => d.frontends?.[0]?.use_backends?.push({ backend: "nope" }));
    expect(i).toEqual([expect.objectContaining({ field: "frontends.0.use_backends.2.backend" })]);
  });
  it("default_backend, unknown ACL, unknown map, duplicate names", () => {
    expect(
      issuesOf(
        (d) =>
          ((
            (d.frontends as Array<{ default_backend?: string }>)[0] as { default_backend?: string }
          ).default_backend = "gone"),
      ).map((x) => x.field),
    ).toEqual(["frontends.0.default_backend"]);
    expect(
      issuesOf((d) =>
        d.frontends?.[0]?.http_request?.push({ action: "deny", cond: "if", cond_test: "host_typo" }),
      )[0]?.message,
    ).toBe("no such ACL: 'host_typo'");
    expect(
      issuesOf((d) =>
        d.frontends?.[0]?.http_request?.push({ action: "set-header", args: ["X", "%[src,map(@nomap)]"] }),
      )[0]?.field,
    ).toBe("frontends.0.http_request.3.args.1");
    expect(issuesOf((d) => d.backends?.push({ name: "app" }))[0]?.field).toBe("backends.2.name");
  });
});

/** Attempts to break out of a line, a word or the document's grammar: every one is refused. */
const REJECTED: Array<[string, (d: StateDocumentInput) => void]> = [
  ["newline in a backend name", (d) => d.backends?.push({ name: "x\nfrontend evil" })],
  [
    "space in a server name",
    (d) => d.backends?.[0]?.servers?.push({ name: "s backup", address: "127.0.0.1", port: 1 }),
  ],
  [
    "directive in a server address",
    (d) => d.backends?.[0]?.servers?.push({ name: "s", address: "127.0.0.1:22 check\n  bind :22", port: 1 }),
  ],
  [
    "CRLF in a header value",
    (d) =>
      d.frontends?.[0]?.http_request?.push({ action: "set-header", args: ["X", "a\r\nhttp-request allow"] }),
  ],
  [
    "NUL in a value",
    (d) => d.frontends?.[0]?.http_request?.push({ action: "set-header", args: ["X", "a\u0000b"] }),
  ],
  [
    "tab in a value",
    (d) => d.frontends?.[0]?.http_request?.push({ action: "set-header", args: ["X", "a\tb"] }),
  ],
  ["unknown rule action", (d) => d.frontends?.[0]?.http_request?.push({ action: "lua.evil" })],
  ["action with a newline", (d) => d.frontends?.[0]?.http_request?.push({ action: "deny\nuser x" })],
  [
    "condition in args",
    (d) => d.frontends?.[0]?.http_request?.push({ action: "deny", args: ["if", "TRUE"] }),
  ],
  [
    "comment in a condition",
    (d) => d.frontends?.[0]?.http_request?.push({ action: "deny", cond: "if", cond_test: "TRUE # x" }),
  ],
  [
    "newline in a condition",
    (d) => d.frontends?.[0]?.http_request?.push({ action: "deny", cond: "if", cond_test: "TRUE\nbackend b" }),
  ],
  [
    "double space in a condition",
    (d) => d.frontends?.[0]?.http_request?.push({ action: "deny", cond: "if", cond_test: "TRUE  FALSE" }),
  ],
  [
    "file read through return",
    (d) =>
      d.frontends?.[0]?.http_request?.push({
        action: "return",
        args: ["status", "200", "file", "/etc/shadow"],
      }),
  ],
  [
    "file read through a map path",
    (d) =>
      d.frontends?.[0]?.http_request?.push({ action: "set-header", args: ["X", "%[src,map(/etc/passwd)]"] }),
  ],
  [
    "map path in an ACL criterion",
    (d) => d.frontends?.[0]?.acls?.push({ name: "m", criterion: "src,map_ip(/etc/passwd)", values: ["x"] }),
  ],
  [
    "ACL -f flag",
    (d) =>
      d.frontends?.[0]?.acls?.push({
        name: "m",
        criterion: "src",
        flags: ["-f" as "-i"],
        values: ["/etc/passwd"],
      }),
  ],
  [
    "space in an ACL criterion",
    (d) => d.frontends?.[0]?.acls?.push({ name: "m", criterion: "hdr(host) -f /etc/passwd", values: [] }),
  ],
  [
    "set-map to a path",
    (d) => d.frontends?.[0]?.http_request?.push({ action: "set-map(/etc/passwd)", args: ["a", "b"] }),
  ],
  ["option with a newline", (d) => d.defaults?.[0]?.options?.push("httplog\n  stats enable")],
  ["option external-check", (d) => d.defaults?.[0]?.options?.push("external-check")],
  ["option with a quote", (d) => d.defaults?.[0]?.options?.push('httpchk GET "/x')],
  [
    "bind address with options",
    (d) => d.frontends?.[0]?.binds?.push({ address: "0.0.0.0:22 ssl", port: 80 }),
  ],
  [
    "certificate path traversal",
    (d) => d.frontends?.[0]?.binds?.push({ port: 443, tls: { certificates: ["../../etc/shadow"] } }),
  ],
  [
    "absolute certificate path",
    (d) => d.frontends?.[0]?.binds?.push({ port: 443, tls: { certificates: ["/etc/ssl/key.pem"] } }),
  ],
  [
    "tune key with a newline",
    (d) => ((d.global as { tune: Record<string, unknown> }).tune["bufsize 1\nlua-load /x"] = 1),
  ],
  [
    "tune value with a space",
    (d) => ((d.global as { tune: Record<string, unknown> }).tune.bufsize = "1 lua-load"),
  ],
  [
    "log target smuggling",
    (d) => d.global?.log?.push({ address: "127.0.0.1:514 local0\nlua-load /x", facility: "local0" }),
  ],
  [
    "password hash with a space",
    (d) => d.userlists?.[0]?.users?.push({ name: "eve", password: "$5$a$b groups admin" }),
  ],
  ["raw line opening a section", (d) => (d.advanced = { global: ["backend evil"] })],
  ["raw line with a newline", (d) => (d.advanced = { global: ["nbthread 2\nbackend evil"] })],
  ["unknown field", (d) => ((d.backends?.[0] as Record<string, unknown>).extra_line = "x")],
  ["port out of range", (d) => d.frontends?.[0]?.binds?.push({ port: 70000 })],
  ["non-ASCII look-alike in a name", (d) => d.backends?.push({ name: "app\u2028x" })],
  ["balance with a newline", (d) => d.defaults?.push({ balance: "roundrobin\nbackend x" })],
  [
    "http-check uri with a space",
    (d) => ((d.backends?.[0] as Record<string, unknown>).http_check = { uri: "/ HTTP/1.0\r\nX: y" }),
  ],
  [
    "sni with a space",
    (d) =>
      d.backends?.[0]?.servers?.push({
        name: "s9",
        address: "127.0.0.1",
        port: 1,
        sni: "str(a) verify none",
      }),
  ],
  ["map key with a space", (d) => d.maps?.push({ name: "m2", entries: [{ key: "a b", value: "c" }] })],
  ["map value with a newline", (d) => d.maps?.push({ name: "m3", entries: [{ key: "a", value: "c\nd e" }] })],
];

/** Values that are allowed and must come out as one word that haproxy reads back verbatim. */
const INERT_VALUES = [
  "a b c",
  "x # not a comment",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${HOME} is the point
  '$HOME ${HOME} "$PATH"',
  "it's",
  'say "hi"',
  "both ' and \"",
  "{ TRUE }",
  "if",
  "semi;colon|pipe&amp",
  "-f",
  "unicode é ✓",
  "back\\slash",
];

/** Header values of the live probe: `if`/`unless` are conditions, not args; log-format reads backslashes. */
const HEADER_VALUES = INERT_VALUES.filter((v) => v !== "if" && !v.includes("\\"));

describe("haproxy-agent render - injection corpus", () => {
  for (const [name, patch] of REJECTED) {
    it(`rejects: ${name}`, () => {
      const d = sampleDoc();
      patch(d);
      const r = StateDocument.safeParse(d);
      const issues = r.success ? crossCheck(r.data) : r.error.issues;
      expect(issues.length, name).toBeGreaterThan(0);
    });
  }

  it("quotes every other value as exactly one word", () => {
    for (const v of INERT_VALUES) {
      const q = quoteArg(v);
      expect(q.includes("\n")).toBe(false);
      expect(q === v || /^'[^']*'$/.test(q) || /^"([^"\\$]|\\.)*"$/.test(q), `${v} → ${q}`).toBe(true);
    }
  });

  it("haproxy reads inert values back byte for byte (live haproxy)", async () => {
    const port = await freePort();
    const d: StateDocumentInput = {
      defaults: [{ mode: "http", timeouts: { connect: "2s", client: "5s", server: "5s" } }],
      acls: [
        { name: "weird", criterion: "hdr(x-probe)", values: INERT_VALUES.filter((v) => !v.startsWith("-")) },
      ],
      frontends: [
        {
          name: "echo",
          binds: [{ address: "127.0.0.1", port }],
          http_request: [
            {
              action: "return",
              args: ["status", "200", ...HEADER_VALUES.flatMap((v, i) => ["hdr", `x-v${i}`, v])],
              cond: "if",
              cond_test: "weird",
            },
            { action: "return", args: ["status", "404"] },
          ],
        },
      ],
    };
    const doc = parse(d);
    expect(crossCheck(doc)).toEqual([]);
    const v = await validateDocument("haproxy", doc, opts);
    expect(v.valid, v.output).toBe(true);
    const r = render(doc, { ...opts, runDir: join(dir.path, "live") });
    await import("node:fs/promises").then((fs) => fs.mkdir(join(dir.path, "live"), { recursive: true }));
    const cfg = join(dir.path, "live", "haproxy.cfg");
    // No master-worker needed for this probe: run it in the foreground.
    await writeFile(cfg, r.cfg.replace("    master-worker\n", ""));
    const hp = spawn("haproxy", ["-db", "-f", cfg], { stdio: "ignore" });
    try {
      let res: Response | undefined;
      for (let i = 0; i < 100 && !res; i++) {
        res = await fetch(`http://127.0.0.1:${port}/`, { headers: { "x-probe": "it's" } }).catch(
          () => undefined,
        );
        if (!res) await sleep(20);
      }
      expect(res?.status, JSON.stringify([...(res?.headers ?? [])])).toBe(200);
      HEADER_VALUES.forEach((val, i) => {
        // HTTP header values are Latin-1 on the wire: compare bytes.
        const got = Buffer.from(res?.headers.get(`x-v${i}`) ?? "", "latin1").toString("utf8");
        expect(got, val).toBe(val);
      });
      const miss = await fetch(`http://127.0.0.1:${port}/`, { headers: { "x-probe": "x # not a comment" } });
      expect(miss.status).toBe(200);
      const none = await fetch(`http://127.0.0.1:${port}/`, { headers: { "x-probe": "a" } });
      expect(none.status).toBe(404);
    } finally {
      hp.kill("SIGTERM");
    }
  });
});
