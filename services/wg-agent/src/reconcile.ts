/**
 * Per-peer deltas between the desired peers of an interface and what its device holds.
 * Pure: given desired and actual, it returns UAPI lines that add, update or remove only
 * the peers that differ — never a replace-all, so untouched peers keep their sessions.
 */
import { type WgPeerRecord, wgNet } from "@edgeplane/proto";

/** What a device holds for one peer, as far as the control plane cares. */
export interface DevicePeer {
  allowedIps: string[];
  presharedKey: string | null;
}
/** public key (base64) → peer. */
export type DeviceModel = Map<string, DevicePeer>;

export interface DesiredPeer extends DevicePeer {
  peerId: string;
}

const sortIps = (a: Iterable<string>) => [...new Set(a)].sort();

/** True when the peer should be on devices at `now` (enabled and not expired). */
export function isActive(p: WgPeerRecord, now: number): boolean {
  return p.enabled && (p.expires_at === null || Date.parse(p.expires_at) > now);
}

/** The device view of one peer record. */
export function devicePeerOf(p: WgPeerRecord): DesiredPeer {
  return {
    peerId: p.id,
    allowedIps: sortIps([...p.addresses, ...p.allowed_ips]),
    presharedKey: p.preshared_key,
  };
}

/** Desired device peers of an interface: active peers by public key (lowest id wins a clash). */
export function desiredDevicePeers(peers: Iterable<WgPeerRecord>, now: number): Map<string, DesiredPeer> {
  const out = new Map<string, DesiredPeer>();
  for (const p of peers) {
    if (!isActive(p, now)) continue;
    const prev = out.get(p.public_key);
    if (prev && prev.peerId < p.id) continue;
    out.set(p.public_key, devicePeerOf(p));
  }
  return out;
}

const sameIps = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** True when the device already holds exactly what is desired for this peer. */
export function isInSync(desired: DevicePeer | undefined, actual: DevicePeer | undefined): boolean {
  if (!desired || !actual) return desired === actual;
  return (
    desired.presharedKey === actual.presharedKey && sameIps(desired.allowedIps, sortIps(actual.allowedIps))
  );
}

const ZERO_KEY = "0".repeat(64);

/**
 * UAPI lines turning `actual` into `desired` for one peer; empty when already right.
 * Changing allowed IPs or the preshared key keeps the peer's session.
 */
export function peerDelta(
  publicKey: string,
  desired: DevicePeer | undefined,
  actual: DevicePeer | undefined,
): string[] {
  const pk = `public_key=${wgNet.keyToHex(publicKey)}`;
  if (!desired) return actual ? [pk, "remove=true"] : [];
  if (isInSync(desired, actual)) return [];
  const lines = [pk];
  if (!actual || actual.presharedKey !== desired.presharedKey) {
    if (desired.presharedKey !== null || actual) {
      lines.push(
        `preshared_key=${desired.presharedKey === null ? ZERO_KEY : wgNet.keyToHex(desired.presharedKey)}`,
      );
    }
  }
  if (!actual || !sameIps(desired.allowedIps, sortIps(actual.allowedIps))) {
    lines.push("replace_allowed_ips=true", ...desired.allowedIps.map((ip) => `allowed_ip=${ip}`));
  }
  return lines;
}

/**
 * Deltas for the given public keys (all keys of both sides when `only` is absent), and
 * the model after applying them. `changed` counts the peers touched.
 */
export function computeDeltas(
  desired: ReadonlyMap<string, DevicePeer>,
  actual: ReadonlyMap<string, DevicePeer>,
  only?: Iterable<string>,
): { lines: string[]; next: DeviceModel; changed: number; added: number; removed: number } {
  const keys = only ? new Set(only) : new Set([...desired.keys(), ...actual.keys()]);
  const next: DeviceModel = new Map(actual);
  const lines: string[] = [];
  let changed = 0;
  let added = 0;
  let removed = 0;
  for (const k of keys) {
    const d = desired.get(k);
    const a = actual.get(k);
    const delta = peerDelta(k, d, a);
    if (delta.length === 0) continue;
    changed++;
    if (!a) added++;
    if (!d) removed++;
    lines.push(...delta);
    if (d) next.set(k, { allowedIps: [...d.allowedIps], presharedKey: d.presharedKey });
    else next.delete(k);
  }
  return { lines, next, changed, added, removed };
}
