import { describe, expect, it } from "vitest";
import { WgHost, WgInterfaceCreate, WgPublicKey } from "./mod.ts";
import { formatIp, isHostname, overlaps, parseCidr, parseIp } from "./net.ts";

describe("proto wireguard - strict network parsing", () => {
  it("parses and canonicalises IPv4 and IPv6", () => {
    expect(parseIp("10.8.0.1")?.text).toBe("10.8.0.1");
    expect(parseIp("FD00:0:0:0:0:0:0:1")?.text).toBe("fd00::1");
    expect(parseIp("::ffff:10.0.0.1")?.text).toBe("::ffff:a00:1");
    expect(parseIp("2001:db8:0:0:1:0:0:1")?.text).toBe("2001:db8::1:0:0:1");
    expect(formatIp(6, 0n)).toBe("::");
    for (const bad of [
      "010.0.0.1",
      "1.2.3",
      "1.2.3.256",
      "1.2.3.4 ",
      "::1::",
      "fe80::1%eth0",
      "1:2:3:4:5:6:7:8:9",
      "",
    ])
      expect(parseIp(bad), bad).toBeUndefined();
  });

  it("parses prefixes and detects overlaps", () => {
    const c = parseCidr("10.8.0.77/24");
    expect(c?.text).toBe("10.8.0.0/24");
    expect(c?.ip.text).toBe("10.8.0.77");
    expect(parseCidr("10.0.0.0/33")).toBeUndefined();
    const p = (s: string) => parseCidr(s) ?? expect.unreachable(s);
    expect(overlaps(p("10.0.0.0/8"), p("10.9.0.0/24"))).toBe(true);
    expect(overlaps(p("10.0.0.0/24"), p("10.0.1.0/24"))).toBe(false);
  });

  it("accepts hostnames by RFC 1123 only", () => {
    expect(isHostname("vpn.example.com")).toBe(true);
    expect(isHostname("vpn.example.com.")).toBe(true);
    for (const bad of ["-a.com", "a..b", "a_b.com", "a b", "1.2.3.999", "x".repeat(64)])
      expect(isHostname(bad), bad).toBe(false);
    expect(WgHost.safeParse("2001:db8::1").success).toBe(true);
  });

  it("accepts only 32-byte base64 keys", () => {
    expect(WgPublicKey.safeParse("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=").success).toBe(true);
    const r = WgPublicKey.safeParse("xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8D\n=");
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toContain("U+000a at position 42");
  });

  it("normalises interface addresses and needs at least one family", () => {
    const ok = WgInterfaceCreate.parse({
      name: "wg0",
      address_v4: "10.8.0.0/24",
      listen_port: 51820,
      endpoint_host: "vpn.example.com",
      nodes: ["a"],
    });
    expect(ok.address_v4).toBe("10.8.0.0/24");
    expect(ok.persistent_keepalive).toBe(25);
    const none = WgInterfaceCreate.safeParse({
      name: "wg0",
      listen_port: 1,
      endpoint_host: "a.b",
      nodes: ["a"],
    });
    expect(none.success).toBe(false);
    const long = WgInterfaceCreate.safeParse({
      name: "a-very-long-name-x",
      address_v4: "10.0.0.1/24",
      listen_port: 1,
      endpoint_host: "a.b",
      nodes: ["a"],
    });
    expect(long.error?.issues[0]?.message).toMatch(/at most 15/);
  });
});
