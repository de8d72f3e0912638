/**
 * wireguard api — the WireGuard API through the real gateway, with two render-only agents
 * (the API role and desired state work without WireGuard on the node): strict validation
 * and the injection corpus, peers CRUD with pagination/filter/search, client configs, QR
 * codes that decode to the config, one-time links, PIC's compatibility paths, status in
 * render-only mode, and audit events that never carry a secret.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import jsQRModule from "jsqr";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceProcess } from "../../harness/mod.ts";
import { type PeerBody, startWgMesh, type WgMesh } from "./mesh.ts";

// jsqr is CommonJS with an ES-style `default` in its typings.
type JsQr = (data: Uint8ClampedArray, w: number, h: number) => { data: string } | null;
const jsQR: JsQr = (jsQRModule as unknown as { default?: JsQr }).default ?? (jsQRModule as unknown as JsQr);

let mesh: WgMesh;
let nc: NatsConnection;
const agents: ServiceProcess[] = [];
const IF = "/api/v1/wireguard/interfaces";
const VALID_KEY = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

beforeAll(async () => {
  mesh = await startWgMesh();
  const env = { EP_WG_MODE: "render-only", EP_WG_LINK_TTL_S: "2" };
  agents.push(await mesh.agent("rn1", env), await mesh.agent("rn2", env));
  nc = await connect({ servers: mesh.nats.url });
  for (const name of ["wg0", "office"]) {
    const r = await mesh.api("POST", IF, {
      name,
      address_v4: name === "wg0" ? "10.8.0.1/24" : "10.9.0.0/29",
      address_v6: name === "wg0" ? "fd00:8::1/64" : undefined,
      listen_port: name === "wg0" ? 51820 : 51821,
      endpoint_host: "vpn.example.com",
      dns: ["1.1.1.1", "2606:4700:4700::1111"],
      mtu: 1380,
      nodes: ["rn1", "rn2"],
    });
    if (r.status !== 202) throw new Error(`interface ${name}: ${r.status} ${r.text}`);
  }
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await mesh?.dispose();
});

type Err = { error: { code: string; details?: Array<{ field: string; message: string }> } };
const fields = (b: unknown) => ((b as Err).error.details ?? []).map((d) => d.field);

describe("wireguard api - validation and injection", () => {
  const peers = `${IF}/wg0/peers`;
  const corpus: Array<[string, Record<string, unknown>, string]> = [
    ["newline in a name", { name: "a\nPostUp = rm -rf /" }, "name"],
    ["section header in a name", { name: "[Interface]" }, "name"],
    ["shell in a name", { name: "$(reboot)" }, "name"],
    ["backticks in a name", { name: "`id`" }, "name"],
    ["semicolon in a name", { name: "a;b" }, "name"],
    ["unicode in a name", { name: "pеer" }, "name"],
    [
      "newline after a key",
      { name: "k1", public_key: `${VALID_KEY}\nPostUp = touch /tmp/pwned` },
      "public_key",
    ],
    ["short key", { name: "k2", public_key: "abc=" }, "public_key"],
    ["key with a bad last char", { name: "k3", public_key: `${VALID_KEY.slice(0, 42)}B=` }, "public_key"],
    ["newline in a psk", { name: "k4", preshared_key: `${VALID_KEY}\n[Interface]` }, "preshared_key"],
    ["directive in allowed_ips", { name: "k5", allowed_ips: ["10.1.0.0/24\nPostUp = id"] }, "allowed_ips.0"],
    ["shell in allowed_ips", { name: "k6", allowed_ips: ["10.1.0.0/24; id"] }, "allowed_ips.0"],
    ["host bits in allowed_ips", { name: "k7", allowed_ips: ["10.1.0.1/24"] }, "allowed_ips.0"],
    ["newline in an address", { name: "k8", address: "10.8.0.9\n" }, "address"],
    ["leading zeros in an address", { name: "k9", address: "10.8.0.010" }, "address"],
    ["tag with a space", { name: "k10", tags: ["a b"] }, "tags.0"],
    ["tag with a newline", { name: "k11", tags: ["x\n[Peer]"] }, "tags.0"],
    ["unknown field PostUp", { name: "k12", PostUp: "id" }, "body"],
    ["expires_at not a date", { name: "k13", expires_at: "tomorrow; id" }, "expires_at"],
    [
      "store_private_key with a client key",
      { name: "k14", public_key: VALID_KEY, store_private_key: true },
      "store_private_key",
    ],
  ];
  for (const [what, body, field] of corpus) {
    it(`rejects ${what} with 422 naming ${field}`, async () => {
      const r = await mesh.api("POST", peers, body);
      expect(r.status, r.text).toBe(422);
      const f = fields(r.body);
      expect(
        f.some((x) => x === field || (field === "body" && x === "")) || f.includes(field),
        JSON.stringify(f),
      ).toBe(true);
    });
  }

  it("rejects hostile interface definitions field by field", async () => {
    const r = await mesh.api("POST", IF, {
      name: "wg0\n[Peer]",
      address_v4: "10.8.0.1/33",
      address_v6: "fd00::1/64\nPostUp=x",
      listen_port: 70000,
      endpoint_host: "vpn.example.com\n[Interface]",
      dns: ["1.1.1.1; reboot"],
      mtu: 100,
      nodes: ["$(id)"],
    });
    expect(r.status).toBe(422);
    expect(fields(r.body).sort()).toEqual(
      ["address_v4", "address_v6", "dns.0", "endpoint_host", "listen_port", "mtu", "name", "nodes.0"].sort(),
    );
    const host = await mesh.api("POST", IF, {
      name: "x1",
      address_v4: "10.50.0.1/24",
      listen_port: 51999,
      endpoint_host: "a;b.example.com",
      nodes: ["rn1"],
    });
    expect(host.status).toBe(422);
    expect((host.body as Err).error.details?.[0]?.message).toMatch(/';' at position 1/);
  });

  it("stored nothing for any rejected request", async () => {
    const r = await mesh.api<{ total: number }>("GET", `${peers}?per_page=200`);
    expect(r.body.total).toBe(0);
  });
});

describe("wireguard api - peers", () => {
  const peers = `${IF}/office/peers`;
  let generated: PeerBody;

  it("allocates the next free address and reports the render-only nodes as unconfirmed", async () => {
    const r = await mesh.api<PeerBody>("POST", peers, { name: "alice", tags: ["staff", "laptop"] });
    expect(r.status, r.text).toBe(202);
    generated = r.body;
    expect(r.body.addresses).toEqual(["10.9.0.2/32"]);
    expect(r.body.apply.unconfirmed.map((u) => u.reason)).toEqual([
      expect.stringMatching(/^render-only/),
      expect.stringMatching(/^render-only/),
    ]);
    expect(r.body.private_key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(r.body.config).toContain(`PrivateKey = ${r.body.private_key}`);
    expect(r.body.config).toContain("Endpoint = vpn.example.com:51821");
    expect(r.body.config).toContain("DNS = 1.1.1.1, 2606:4700:4700::1111");
    expect(r.body.config).toContain("AllowedIPs = 10.9.0.0/29");
  });

  it("checks static addresses and exhausts a small subnet cleanly", async () => {
    const s = await mesh.api<PeerBody>("POST", peers, {
      name: "static",
      address: "10.9.0.6",
      public_key: VALID_KEY,
    });
    expect(s.status, s.text).toBe(202);
    expect(s.body.addresses).toEqual(["10.9.0.6/32"]);
    const dup = await mesh.api("POST", peers, { name: "static2", address: "10.9.0.6" });
    expect(dup.status).toBe(409);
    expect((dup.body as Err).error.code).toBe("wg_address_in_use");
    const gw = await mesh.api("POST", peers, { name: "gw", address: "10.9.0.1" });
    expect(gw.status).toBe(422);
    const samekey = await mesh.api("POST", peers, { name: "samekey", public_key: VALID_KEY });
    expect(samekey.status).toBe(409);
    // /29: hosts .2–.6 usable besides the gateway .1; .2 and .6 are taken.
    const more = [];
    for (const n of ["b", "c", "d"]) more.push(await mesh.api<PeerBody>("POST", peers, { name: n }));
    expect(more.map((m) => m.body.addresses[0])).toEqual(["10.9.0.3/32", "10.9.0.4/32", "10.9.0.5/32"]);
    const full = await mesh.api("POST", peers, { name: "e" });
    expect(full.status).toBe(409);
    expect((full.body as Err).error.code).toBe("wg_address_exhausted");
    const dupName = await mesh.api("POST", peers, { name: "alice" });
    expect(dupName.status).toBe(409);
  });

  it("lists with pagination, tag/enabled filters and search", async () => {
    const all = await mesh.api<{ total: number; items: PeerBody[]; pages: number }>(
      "GET",
      `${peers}?per_page=2&page=2`,
    );
    expect(all.body.total).toBe(5);
    expect(all.body.pages).toBe(3);
    expect(all.body.items.map((p) => p.name)).toEqual(["c", "d"]);
    const tag = await mesh.api<{ items: PeerBody[] }>("GET", `${peers}?tag=staff`);
    expect(tag.body.items.map((p) => p.name)).toEqual(["alice"]);
    await mesh.api("POST", `${peers}/b/disable`);
    const off = await mesh.api<{ items: PeerBody[] }>("GET", `${peers}?enabled=false`);
    expect(off.body.items.map((p) => p.name)).toEqual(["b"]);
    const q = await mesh.api<{ items: PeerBody[] }>("GET", `${peers}?q=10.9.0.6`);
    expect(q.body.items.map((p) => p.name)).toEqual(["static"]);
    const bad = await mesh.api("GET", `${peers}?q=${encodeURIComponent("a\nb")}`);
    expect(bad.status).toBe(422);
  });

  it("updates with PATCH, by id or name, and never returns the preshared key", async () => {
    const r = await mesh.api<PeerBody & { has_preshared_key: boolean }>("PATCH", `${peers}/${generated.id}`, {
      preshared_key: VALID_KEY.replace("x", "y"),
      tags: ["staff"],
      name: "alice2",
    });
    expect(r.status, r.text).toBe(202); // stored; the render-only nodes install nothing
    expect(r.body.has_preshared_key).toBe(true);
    expect(r.text).not.toContain(VALID_KEY.replace("x", "y"));
    expect((await mesh.api("GET", `${peers}/alice2`)).status).toBe(200);
    expect((await mesh.api("GET", `${peers}/alice`)).status).toBe(404);
  });

  it("serves the config (sealed key not stored → placeholder) and QR codes that decode to it", async () => {
    const cfg = await mesh.api("GET", `${peers}/alice2/config`);
    expect(cfg.status).toBe(200);
    expect(cfg.text).toContain("# PrivateKey = (your own private key");
    expect(cfg.text).toContain("PresharedKey = ");
    expect(cfg.text).not.toContain(generated.private_key);

    const png = await fetch(`${mesh.gateway.url}${peers}/alice2/qr?format=png`, {
      headers: { authorization: `Bearer ${mesh.apiKey}` },
    });
    expect(png.headers.get("content-type")).toBe("image/png");
    const img = PNG.sync.read(Buffer.from(await png.arrayBuffer()));
    const decoded = jsQR(new Uint8ClampedArray(img.data), img.width, img.height);
    expect(decoded?.data).toBe(cfg.text);

    const svg = await fetch(`${mesh.gateway.url}${peers}/alice2/qr?format=svg`, {
      headers: { authorization: `Bearer ${mesh.apiKey}` },
    });
    expect(svg.headers.get("content-type")).toContain("image/svg+xml");
    expect(await svg.text()).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    expect((await mesh.api("GET", `${peers}/alice2/qr?format=gif`)).status).toBe(422);
  });

  it("stores the generated private key sealed only when asked, so configs can be fetched again", async () => {
    const r = await mesh.api<PeerBody>("POST", `${IF}/wg0/peers`, { name: "kept", store_private_key: true });
    expect(r.status, r.text).toBe(202);
    const cfg = await mesh.api("GET", `${IF}/wg0/peers/kept/config`);
    expect(cfg.text).toBe(r.body.config);
    // Sealed at rest: the secrets bucket never holds the key in clear.
    const jsm = await jetstreamManager(nc);
    const m = await jsm.streams.getMessage("KV_wg-secrets", {
      last_by_subj: `$KV.wg-secrets.key.wg0.${r.body.id}`,
    });
    expect(m?.string()).toMatch(/^v1\./);
    expect(m?.string()).not.toContain(r.body.private_key);
  });

  it("one-time links work once and expire", async () => {
    const l = await mesh.api<{ path: string; token: string }>("POST", `${peers}/alice2/links`);
    expect(l.status, l.text).toBe(201);
    const first = await fetch(`${mesh.gateway.url}${l.body.path}`);
    expect(first.status).toBe(200);
    expect(await first.text()).toContain("[Interface]");
    expect((await fetch(`${mesh.gateway.url}${l.body.path}`)).status).toBe(404);
    const l2 = await mesh.api<{ path: string }>("POST", `${peers}/alice2/links`);
    await new Promise((r) => setTimeout(r, 2100)); // EP_WG_LINK_TTL_S=2 in this test
    expect((await fetch(`${mesh.gateway.url}${l2.body.path}`)).status).toBe(404);
    expect((await fetch(`${mesh.gateway.url}/api/v1/wireguard/links/not-a-token`)).status).toBe(422);
  });

  it("deletes, releasing the address and the name", async () => {
    const d = await mesh.api("DELETE", `${peers}/c`);
    expect(d.status, d.text).toBe(202);
    const again = await mesh.api<PeerBody>("POST", peers, { name: "c" });
    expect(again.body.addresses).toEqual(["10.9.0.4/32"]);
    expect((await mesh.api("DELETE", IF.concat("/office"))).status).toBe(409); // still has peers
  });
});

describe("wireguard api - PIC compatibility paths on the default interface (wg0)", () => {
  it("GET/POST /api/peers, GET/PUT/DELETE /api/peers/{name}, GET /api/peers/{name}/qr", async () => {
    const c = await mesh.api<PeerBody>("POST", "/api/peers", { name: "pic", public_key: VALID_KEY });
    expect(c.status, c.text).toBe(202);
    expect(c.body.addresses).toEqual(["10.8.0.3/32", "fd00:8::3/128"]);
    const list = await mesh.api<{ items: PeerBody[] }>("GET", "/api/peers");
    expect(list.body.items.map((p) => p.name).sort()).toEqual(["kept", "pic"]);
    expect((await mesh.api<PeerBody>("GET", "/api/peers/pic")).body.id).toBe(c.body.id);
    const put = await mesh.api<PeerBody>("PUT", "/api/peers/pic", { enabled: false });
    expect(put.body.enabled).toBe(false);
    const qr = await fetch(`${mesh.gateway.url}/api/peers/pic/qr`, { headers: { "x-api-key": mesh.apiKey } });
    expect(qr.headers.get("content-type")).toBe("image/png");
    expect((await mesh.api("DELETE", "/api/peers/pic")).status).toBe(202);
    expect((await mesh.api("GET", "/api/peers/pic")).status).toBe(404);
  });

  it("GET /api/wireguard/status says clearly that the nodes run render-only", async () => {
    const s = await mesh.api<{
      running: boolean;
      nodes: Array<{ mode: string; reason: string; reachable: boolean }>;
    }>("GET", "/api/wireguard/status");
    expect(s.status).toBe(200);
    expect(s.body.running).toBe(false);
    expect(s.body.nodes).toHaveLength(2);
    for (const n of s.body.nodes)
      expect(n).toMatchObject({ reachable: true, mode: "render-only", reason: "EP_WG_MODE=render-only" });
  });
});

describe("wireguard api - audit and secrets", () => {
  it("audits every mutation, never with a key in it, and logs no private key", async () => {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info("AUDIT");
    const seen: string[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage("AUDIT", { seq }).catch(() => undefined);
      if (m?.subject.startsWith("ep.v1.audit.wireguard.")) seen.push(m.string());
    }
    const actions = seen.map((s) => (JSON.parse(s) as { action: string }).action);
    expect(actions).toEqual(
      expect.arrayContaining([
        "wireguard.interface.create",
        "wireguard.peer.create",
        "wireguard.peer.update",
        "wireguard.peer.disable",
        "wireguard.peer.delete",
        "wireguard.peer.link_create",
        "wireguard.peer.link_redeem",
        "wireguard.peer.config_download",
      ]),
    );
    const all = seen.join("\n");
    expect(all).not.toMatch(/[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=/); // no key of any kind
    for (const a of agents) expect(a.output()).not.toMatch(/"private_key":"[A-Za-z0-9+/]{43}=/);
  });
});
