import type { WgPeerRecord } from "@edgeplane/proto";
import { describe, expect, it } from "vitest";
import { computeDeltas, desiredDevicePeers, peerDelta } from "./reconcile.ts";

const K1 = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const K2 = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
const hex = (k: string) => Buffer.from(k, "base64").toString("hex");

function peer(p: Partial<WgPeerRecord>): WgPeerRecord {
  return {
    id: "peer_a",
    name: "a",
    interface: "wg0",
    public_key: K1,
    preshared_key: null,
    addresses: ["10.8.0.2/32"],
    allowed_ips: [],
    enabled: true,
    expires_at: null,
    tags: [],
    key_origin: "client",
    private_key_stored: false,
    created_at: "",
    updated_at: "",
    created_by: null,
    updated_by: null,
    ...p,
  };
}

describe("wg-agent reconcile - per-peer deltas", () => {
  it("adds a missing peer with its allowed IPs, in one batch", () => {
    expect(peerDelta(K1, { allowedIps: ["10.8.0.2/32"], presharedKey: null }, undefined)).toEqual([
      `public_key=${hex(K1)}`,
      "replace_allowed_ips=true",
      "allowed_ip=10.8.0.2/32",
    ]);
  });

  it("leaves a peer that is already right untouched (no lines at all)", () => {
    const d = { allowedIps: ["10.8.0.2/32", "fd00::2/128"], presharedKey: null };
    expect(peerDelta(K1, d, { allowedIps: ["fd00::2/128", "10.8.0.2/32"], presharedKey: null })).toEqual([]);
  });

  it("updates only what drifted, and removes unknown peers", () => {
    const desired = new Map([[K1, { allowedIps: ["10.8.0.2/32", "192.168.5.0/24"], presharedKey: null }]]);
    const actual = new Map([
      [K1, { allowedIps: ["10.8.0.2/32"], presharedKey: null }],
      [K2, { allowedIps: ["10.8.0.9/32"], presharedKey: null }],
    ]);
    const r = computeDeltas(desired, actual);
    expect(r.lines).toEqual([
      `public_key=${hex(K1)}`,
      "replace_allowed_ips=true",
      "allowed_ip=10.8.0.2/32",
      "allowed_ip=192.168.5.0/24",
      `public_key=${hex(K2)}`,
      "remove=true",
    ]);
    expect([r.changed, r.added, r.removed]).toEqual([2, 0, 1]);
    expect([...r.next.keys()]).toEqual([K1]);
  });

  it("clears a preshared key with the zero key, without re-adding the peer", () => {
    expect(
      peerDelta(
        K1,
        { allowedIps: ["10.8.0.2/32"], presharedKey: null },
        { allowedIps: ["10.8.0.2/32"], presharedKey: K2 },
      ),
    ).toEqual([`public_key=${hex(K1)}`, `preshared_key=${"0".repeat(64)}`]);
  });

  it("restricts a delta to the given keys", () => {
    const desired = new Map([[K1, { allowedIps: ["10.8.0.2/32"], presharedKey: null }]]);
    const actual = new Map([[K2, { allowedIps: ["10.8.0.9/32"], presharedKey: null }]]);
    expect(computeDeltas(desired, actual, [K1]).lines).toHaveLength(3);
  });

  it("desired device peers exclude disabled and expired peers", () => {
    const now = Date.parse("2030-01-01T00:00:00Z");
    const d = desiredDevicePeers(
      [
        peer({ id: "peer_1", public_key: K1 }),
        peer({ id: "peer_2", public_key: K2, enabled: false }),
        peer({
          id: "peer_3",
          public_key: `${"AAAA".repeat(10)}AAA=`,
          expires_at: "2029-12-31T23:59:59.999Z",
        }),
      ],
      now,
    );
    expect([...d.keys()]).toEqual([K1]);
  });
});
