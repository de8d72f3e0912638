import { describe, expect, it } from "vitest";
import { generateKeyPair, publicKeyOf } from "./keys.ts";
import { type ClientConfigInput, RenderError, renderClientConfig } from "./render.ts";
import { createSealer } from "./seal.ts";

const base = (): ClientConfigInput => ({
  privateKey: generateKeyPair().privateKey,
  addresses: ["10.8.0.2/32", "fd00::2/128"],
  dns: ["1.1.1.1"],
  mtu: 1380,
  serverPublicKey: generateKeyPair().publicKey,
  presharedKey: null,
  allowedIps: ["10.8.0.0/24", "fd00::/64"],
  endpointHost: "vpn.example.com",
  endpointPort: 51820,
  persistentKeepalive: 25,
});

describe("wg-agent render - client configs", () => {
  it("renders a wg-quick config of exactly the expected lines", () => {
    const c = base();
    const text = renderClientConfig(c);
    expect(text.split("\n")).toEqual([
      "[Interface]",
      `PrivateKey = ${c.privateKey}`,
      "Address = 10.8.0.2/32, fd00::2/128",
      "DNS = 1.1.1.1",
      "MTU = 1380",
      "",
      "[Peer]",
      `PublicKey = ${c.serverPublicKey}`,
      "AllowedIPs = 10.8.0.0/24, fd00::/64",
      "Endpoint = vpn.example.com:51820",
      "PersistentKeepalive = 25",
      "",
    ]);
  });

  it("brackets IPv6 endpoints and leaves the private key out when the server never had it", () => {
    const text = renderClientConfig({ ...base(), privateKey: null, endpointHost: "2001:db8::1" });
    expect(text).toContain("Endpoint = [2001:db8::1]:51820");
    expect(text).not.toMatch(/^PrivateKey/m);
    expect(text).toContain("# PrivateKey = (your own private key");
  });

  // Values that somehow bypassed the schemas still never become lines of their own.
  const corpus: Array<[string, Partial<ClientConfigInput>]> = [
    ["newline + PostUp in the endpoint host", { endpointHost: "vpn.example.com\nPostUp = rm -rf /" }],
    ["section header in the endpoint host", { endpointHost: "x\n[Interface]" }],
    ["shell metacharacters in the host", { endpointHost: "$(reboot)" }],
    ["newline in an address", { addresses: ["10.8.0.2/32\nPostUp = id"] }],
    ["newline in a DNS server", { dns: ["1.1.1.1\nPostDown = id"] }],
    ["newline in the server key", { serverPublicKey: `${generateKeyPair().publicKey}\nPostUp = id` }],
    ["a non-key private key", { privateKey: "PostUp = id" }],
    ["a psk with a CR", { presharedKey: `${generateKeyPair().publicKey}\r` }],
    ["an allowed IP with a semicolon", { allowedIps: ["0.0.0.0/0;id"] }],
    ["a fractional MTU", { mtu: 1380.5 }],
    ["a port out of range", { endpointPort: 70000 }],
  ];
  for (const [what, bad] of corpus) {
    it(`refuses ${what}`, () => {
      expect(() => renderClientConfig({ ...base(), ...bad })).toThrow(RenderError);
    });
  }
});

describe("wg-agent keys and sealing", () => {
  it("generates key pairs whose public key matches the private key", () => {
    const p = generateKeyPair();
    expect(p.privateKey).toMatch(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$/);
    expect(publicKeyOf(p.privateKey)).toBe(p.publicKey);
  });

  it("seals with AES-256-GCM bound to its context", () => {
    const s = createSealer(Buffer.alloc(32, 7).toString("base64"));
    const sealed = s.seal("secret", "wg:wg0:peer_a");
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain("secret");
    expect(s.open(sealed, "wg:wg0:peer_a")).toBe("secret");
    expect(() => s.open(sealed, "wg:wg0:peer_b")).toThrow();
    expect(() => createSealer("short")).toThrow(/32 bytes/);
  });
});
