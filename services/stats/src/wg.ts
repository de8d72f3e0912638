/**
 * WireGuard peers from `WgStatsSample`s: latest counters per node, rates from deltas (a
 * counter lower than before = the interface or peer was re-created: the delta is the new
 * value), and per-peer rings (rx, tx bytes per bucket; seconds since the handshake) merged over nodes.
 */
import type { WgStatsSample } from "@edgeplane/proto";
import { Ring } from "./window.ts";

export interface WgPeerNode {
  node: string;
  ts: number;
  endpoint: string | null;
  peerId: string | null;
  handshake: number;
  rx: number;
  tx: number;
  rxRate: number;
  txRate: number;
}

export interface WgPeer {
  publicKey: string;
  peerId: string | null;
  nodes: Map<string, WgPeerNode>;
  ring: Ring;
}

export const WG_RX = 0;
export const WG_TX = 1;
export const WG_HS = 2;

export class WgModel {
  readonly stepMs: number;
  readonly cap: number;
  /** interface → public key → peer */
  readonly ifaces = new Map<string, Map<string, WgPeer>>();
  /** When this instance started listening (ms): samples sent before were missed. */
  readonly since: number;
  /** Per interface, its first sample here and (from the next one of that node) the sampling period. */
  readonly first = new Map<string, { bucket: number; ts: number; node: string; period: number | null }>();
  constructor(stepMs: number, cap: number, since = Date.now()) {
    this.stepMs = stepMs;
    this.cap = cap;
    this.since = since;
  }

  /**
   * First bucket of an interface whose deltas this instance saw in full (undefined: no sample
   * yet). Its first sample's bucket is partial when the sample before it was sent before this
   * instance listened (that delta is lost), so history is neither written nor preferred from
   * it — unless that first sample came over 1.5 sampling periods after listening started (the
   * period known from the node's next sample): then there was no earlier sample to miss (a new
   * interface) and the bucket is whole.
   */
  firstWhole(iface: string): number | undefined {
    const f = this.first.get(iface);
    if (!f) return undefined;
    return f.period !== null && f.ts - this.since >= 1.5 * f.period ? f.bucket : f.bucket + 1;
  }

  ingest(s: WgStatsSample): void {
    const ts = Date.parse(s.at);
    if (!Number.isFinite(ts)) return;
    let peers = this.ifaces.get(s.interface);
    if (!peers) {
      peers = new Map();
      this.ifaces.set(s.interface, peers);
    }
    const bucket = Math.floor(ts / this.stepMs);
    const f = this.first.get(s.interface);
    if (!f) this.first.set(s.interface, { bucket, ts, node: s.node, period: null });
    else if (f.period === null && f.node === s.node && ts > f.ts) f.period = ts - f.ts;
    for (const p of s.peers) {
      let peer = peers.get(p.public_key);
      if (!peer) {
        peer = { publicKey: p.public_key, peerId: p.peer_id, nodes: new Map(), ring: new Ring(this.cap, 3) };
        peers.set(p.public_key, peer);
      }
      if (p.peer_id) peer.peerId = p.peer_id;
      const prev = peer.nodes.get(s.node);
      const cur: WgPeerNode = {
        node: s.node,
        ts,
        endpoint: p.endpoint,
        peerId: p.peer_id,
        handshake: p.latest_handshake,
        rx: p.rx_bytes,
        tx: p.tx_bytes,
        rxRate: 0,
        txRate: 0,
      };
      const off = peer.ring.slot(bucket);
      if (prev && ts > prev.ts) {
        const dRx = p.rx_bytes >= prev.rx ? p.rx_bytes - prev.rx : p.rx_bytes;
        const dTx = p.tx_bytes >= prev.tx ? p.tx_bytes - prev.tx : p.tx_bytes;
        cur.rxRate = (dRx * 1000) / (ts - prev.ts);
        cur.txRate = (dTx * 1000) / (ts - prev.ts);
        if (off >= 0) {
          peer.ring.data[off + WG_RX] = (peer.ring.data[off + WG_RX] as number) + dRx;
          peer.ring.data[off + WG_TX] = (peer.ring.data[off + WG_TX] as number) + dTx;
        }
      } else if (prev && ts <= prev.ts) continue;
      if (off >= 0 && p.latest_handshake > 0) {
        // Seconds since the handshake + 1 (0 = no handshake seen in the bucket); float32-exact.
        const v = Math.max(0, Math.round(ts / 1000 - p.latest_handshake)) + 1;
        const c = peer.ring.data[off + WG_HS] as number;
        peer.ring.data[off + WG_HS] = c === 0 ? v : Math.min(c, v);
      }
      peer.nodes.set(s.node, cur);
    }
  }
}
