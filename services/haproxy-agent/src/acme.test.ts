import { createHash, generateKeyPairSync } from "node:crypto";
import { StateDocument } from "@edgeplane/proto";
import acme from "acme-client";
import { describe, expect, it } from "vitest";
import { thumbprint } from "./acme.ts";
import { render } from "./render.ts";

const opts = {
  runDir: "/run/ep",
  mapDir: "/run/ep/maps",
  certDir: "/run/ep/certs",
  portOffset: 0,
  noreuseport: false,
};

describe("ACME thumbprint", () => {
  it("is the RFC 7638 thumbprint acme-client computes for the account key", () => {
    const pem = generateKeyPairSync("ec", { namedCurve: "P-256" })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString();
    const jwk = acme.crypto.getJwk(pem) as unknown as Record<string, string>;
    const expected = createHash("sha256")
      .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
      .digest("base64url");
    expect(thumbprint(pem)).toBe(expected);
    expect(thumbprint(pem)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("render: HTTP-01 answered by haproxy", () => {
  const doc = StateDocument.parse({
    defaults: [{ mode: "http" }],
    frontends: [
      { name: "web", binds: [{ port: 80 }], default_backend: "app" },
      { name: "tls", binds: [{ port: 443, tls: { certificates: ["site"] } }], default_backend: "app" },
      { name: "raw", mode: "tcp", binds: [{ port: 7000 }], default_backend: "app" },
    ],
    backends: [{ name: "app", servers: [{ name: "s1", address: "127.0.0.1", port: 8080 }] }],
  });
  it("adds the stateless challenge answer to HTTP frontends with a clear-text bind only", () => {
    const cfg = render(doc, { ...opts, acmeThumbprint: "T".repeat(43) }).cfg;
    const rule = `http-request return status 200 content-type text/plain lf-string %[path,field(4,/)].${"T".repeat(43)} if { path_reg ^/[.]well-known/acme-challenge/[A-Za-z0-9_-]+$ }`;
    const sections = cfg.split(/\n(?=\S)/);
    const of = (name: string) => sections.find((s) => s.startsWith(`frontend ${name}`)) ?? "";
    expect(of("web")).toContain(rule);
    expect(of("tls")).not.toContain("acme-challenge");
    expect(of("raw")).not.toContain("acme-challenge");
    expect(render(doc, opts).cfg).not.toContain("acme-challenge");
  });
});
