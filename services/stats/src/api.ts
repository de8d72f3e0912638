/** Answers of the stats API, from the in-memory model, PostgreSQL and the worker pool. */
import {
  call,
  type GeoipStatusReply,
  HAPROXY_COL,
  type HaproxySessionsReply,
  STATS_SERIES_COLUMNS,
  type StatsCurrentReply,
  type StatsHistoryReply,
  type StatsHttpCodesReply,
  type StatsSessionsReply,
  type StatsSlowestReply,
  type StatsWgReply,
  Subjects,
  validationError,
} from "@edgeplane/proto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { z } from "zod";
import type { GeoDb } from "./geoip.ts";
import { type HistoryStore, KIND_TOTAL, SERIES_STRIDE, type Table } from "./history.ts";
import { type HaproxyModel, type NodeState, RATE_COUNT, type RowState, rowCounters } from "./model.ts";
import type { StatsPool } from "./pool.ts";
import { WG_HS, WG_RX, WG_TX, type WgModel, type WgPeer } from "./wg.ts";
import type { WgHistoryStore } from "./wg-history.ts";
import { METRICS, Mx } from "./window.ts";

type Current = z.input<typeof StatsCurrentReply>;
type Row = Current["frontends"][number];

const KINDS = ["frontend", "backend", "server"] as const;
/**
 * Most points per peer in a WireGuard reply: one series per peer travels in one NATS reply
 * (1 MiB by default), so fewer than the 10,000 of a single HAProxy series; 2,880 is 48 h at
 * 1 min, 7 days at 5 min, 30 days at 15 min.
 */
export const WG_MAX_POINTS = 2880;
/**
 * Most points of all peers in one reply, i.e. one page of peers (30–50 bytes of JSON each):
 * keeps it under NATS's 1 MiB payload, which would otherwise fail as a gateway timeout.
 * Beyond it: fewer peers per page or a coarser step; any number of peers is read in pages.
 */
export const WG_MAX_REPLY_POINTS = 20_000;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
/** Columns averaged (not summed) when rows of several nodes merge. */
const AVERAGED = new Set(["qtime", "ctime", "rtime", "ttime", "lastchg", "check_duration", "qtime_max"]);

function ratesOf(r: Float32Array | Float64Array) {
  return {
    req_rate: r[Mx.req] as number,
    sess_rate: r[Mx.sess] as number,
    bytes_in_rate: r[Mx.bin] as number,
    bytes_out_rate: r[Mx.bout] as number,
    http_rate: {
      "1xx": r[Mx.h1] as number,
      "2xx": r[Mx.h2] as number,
      "3xx": r[Mx.h3] as number,
      "4xx": r[Mx.h4] as number,
      "5xx": r[Mx.h5] as number,
      other: r[Mx.hother] as number,
    },
    errors_rate: r[Mx.err] as number,
  };
}

export interface ApiDeps {
  model: HaproxyModel;
  wg: WgModel;
  pool: StatsPool;
  geo: GeoDb;
  store: HistoryStore | null;
  /** WireGuard history tables; null = memory only. */
  wgStore?: WgHistoryStore | null;
  nc: NatsConnection;
  stepMs: number;
  sessionsTimeoutMs: number;
  keep10sMs: number;
}

export class StatsApi {
  readonly d: ApiDeps;
  constructor(d: ApiDeps) {
    this.d = d;
  }

  private fresh(cluster: string, now: number): NodeState[] {
    return this.d.model.nodesOf(cluster).filter((n) => !this.d.model.isStale(n, now));
  }

  current(cluster: string, view: "merged" | "nodes" | "both"): Current {
    const now = Date.now();
    const { model } = this.d;
    const nodes = model.nodesOf(cluster);
    const fresh = nodes.filter((n) => !model.isStale(n, now));
    const out: Current = {
      cluster,
      ts: now,
      nodes: nodes.map((n) => ({
        node: n.node,
        ts: n.ts,
        age_ms: now - n.ts,
        stale: model.isStale(n, now),
        reloads_seen: n.reloads,
        info: n.info,
      })),
      info: {
        curr_conns: fresh.reduce((a, n) => a + n.info.curr_conns, 0),
        conn_rate: fresh.reduce((a, n) => a + n.info.conn_rate, 0),
        sess_rate: fresh.reduce((a, n) => a + n.info.sess_rate, 0),
        cum_req: fresh.reduce((a, n) => a + n.info.cum_req, 0),
      },
      frontends: [],
      backends: [],
      servers: [],
    };
    const lists = [out.frontends, out.backends, out.servers];
    const toRow = (r: RowState, node: string | null): Row => ({
      type: KINDS[r.t],
      proxy: r.px,
      server: r.t === 2 ? r.sv : null,
      node,
      status: r.st,
      check_status: r.ck,
      counters: rowCounters(r.c),
      rates: ratesOf(r.rates),
    });
    if (view !== "merged")
      for (const n of nodes) for (const r of n.rows.values()) lists[r.t]?.push(toRow(r, n.node));
    if (view !== "nodes") {
      const merged = new Map<string, { rows: RowState[] }>();
      for (const n of fresh)
        for (const [k, r] of n.rows) {
          const m = merged.get(k);
          if (m) m.rows.push(r);
          else merged.set(k, { rows: [r] });
        }
      for (const { rows } of merged.values()) {
        const first = rows[0] as RowState;
        const c = new Float64Array(first.c.length).fill(Number.NaN);
        const rates = new Float64Array(RATE_COUNT);
        for (const [name, i] of Object.entries(HAPROXY_COL)) {
          let sum = 0;
          let n = 0;
          for (const r of rows) {
            const v = r.c[i] as number;
            if (!Number.isNaN(v)) {
              sum += v;
              n++;
            }
          }
          if (n > 0) c[i] = AVERAGED.has(name) ? sum / n : sum;
        }
        for (const r of rows)
          for (let m = 0; m < RATE_COUNT; m++) rates[m] = (rates[m] as number) + (r.rates[m] as number);
        const statuses = [...new Set(rows.map((r) => r.st))];
        lists[first.t]?.push({
          type: KINDS[first.t],
          proxy: first.px,
          server: first.t === 2 ? first.sv : null,
          node: null,
          status: statuses.join("/"),
          check_status: first.ck,
          counters: rowCounters(c),
          rates: ratesOf(rates),
        });
      }
    }
    return out;
  }

  async history(
    cluster: string,
    q: {
      window: number;
      step: number;
      frontend?: string | undefined;
      backend?: string | undefined;
      source: string;
    },
  ): Promise<z.input<typeof StatsHistoryReply>> {
    if (q.frontend && q.backend)
      throw validationError([
        { field: "query.backend", message: "give frontend or backend, not both", type: "custom" },
      ]);
    const windowMs = q.window * 1000;
    const memoryMs = this.d.model.opts.windowBuckets * this.d.stepMs;
    const wantDb = q.source === "database" || (q.source === "auto" && (windowMs > memoryMs || q.step >= 60));
    const res = wantDb && (windowMs > this.d.keep10sMs || q.step >= 60) ? 60_000 : this.d.stepMs;
    const stepMs = Math.max(res, Math.ceil((q.step * 1000) / res) * res);
    const points = Math.ceil(windowMs / stepMs);
    if (points > 10_000)
      throw validationError([
        { field: "query.step", message: `window/step gives ${points} points; at most 10000`, type: "custom" },
      ]);
    const kind = q.frontend ? 0 : q.backend ? 1 : KIND_TOTAL;
    const proxy = q.frontend ?? q.backend ?? "";
    const series = q.frontend ? `frontend:${proxy}` : q.backend ? `backend:${proxy}` : "total";
    const end = Math.ceil((Date.now() + 1) / stepMs) * stepMs;
    const start = end - points * stepMs;
    const perStep = stepMs / res;
    // acc: points × METRICS, plus a "has data" flag per point
    const acc = new Float64Array(points * METRICS);
    const has = new Uint8Array(points);
    let source: "memory" | "database";
    if (!wantDb || !this.d.store) {
      if (q.source === "database" && !this.d.store)
        throw validationError([
          { field: "query.source", message: "no database is configured", type: "custom" },
        ]);
      source = "memory";
      const from = Math.floor(start / res);
      const to = Math.floor((end - 1) / res);
      const filter =
        kind === KIND_TOTAL ? (t: number) => t === 0 : (t: number, px: string) => t === kind && px === proxy;
      const g = this.d.model.gather(cluster, from, to, filter);
      for (let b = 0; b <= to - from; b++) {
        const p = Math.floor(((from + b) * res - start) / stepMs);
        if (p < 0 || p >= points) continue;
        has[p] = 1;
        for (let m = 0; m < METRICS; m++)
          acc[p * METRICS + m] = (acc[p * METRICS + m] as number) + (g[b * METRICS + m] as number);
      }
    } else {
      source = "database";
      const table: Table = res === 60_000 ? "stats_haproxy_1m" : "stats_haproxy_10s";
      // Native resolution goes through the store's cache of settled rows; coarser steps are
      // summed in SQL (fewer rows on the wire).
      const { parts } =
        stepMs === res
          ? await this.d.store.seriesCached(table, cluster, kind, proxy, start, end)
          : { parts: [await this.d.store.series(table, cluster, kind, proxy, start, end, stepMs)] };
      for (const { n, data } of parts) {
        for (let i = 0, o = 0; i < n; i++, o += SERIES_STRIDE) {
          const p = Math.floor(((data[o] as number) - start) / stepMs);
          if (p < 0 || p >= points) continue;
          has[p] = 1;
          const a = p * METRICS;
          for (let m = 0; m < METRICS; m++) acc[a + m] = (acc[a + m] as number) + (data[o + 1 + m] as number);
        }
      }
    }
    const sec = stepMs / 1000;
    const out: Array<Array<number | null>> = new Array(points);
    const empty = STATS_SERIES_COLUMNS.length - 1;
    // Three decimals: float32 buckets carry no more, and the reply stays small.
    const a = (o: number, m: number) => Math.round((acc[o + m] as number) * 1000) / 1000;
    for (let p = 0; p < points; p++) {
      const ts = start + p * stepMs;
      if (!has[p]) {
        const row: Array<number | null> = new Array(empty + 1).fill(null);
        row[0] = ts;
        out[p] = row;
        continue;
      }
      const o = p * METRICS;
      const w = a(o, Mx.w);
      out[p] = [
        ts,
        r3(a(o, Mx.req) / sec),
        r3(a(o, Mx.sess) / sec),
        r3(a(o, Mx.bin) / sec),
        r3(a(o, Mx.bout) / sec),
        r3(a(o, Mx.h1) / sec),
        r3(a(o, Mx.h2) / sec),
        r3(a(o, Mx.h3) / sec),
        r3(a(o, Mx.h4) / sec),
        r3(a(o, Mx.h5) / sec),
        r3(a(o, Mx.hother) / sec),
        r3(a(o, Mx.err) / sec),
        r3(a(o, Mx.scur) / perStep),
        r3(a(o, Mx.qcur) / perStep),
        w > 0 ? Math.round((a(o, Mx.rtw) / w) * 1000) / 1000 : null,
        w > 0 ? Math.round((a(o, Mx.ttw) / w) * 1000) / 1000 : null,
      ];
    }
    return {
      cluster,
      series,
      window_s: Math.round(windowMs / 1000),
      step_s: sec,
      source,
      resolution_s: res / 1000,
      columns: [...STATS_SERIES_COLUMNS],
      points: out,
    };
  }

  async slowest(cluster: string, limit: number, windowS: number): Promise<z.input<typeof StatsSlowestReply>> {
    const step = this.d.stepMs;
    const to = Math.floor(Date.now() / step);
    const buckets = Math.max(1, Math.ceil((windowS * 1000) / step));
    const from = to - buckets + 1;
    const rings = [...(this.d.model.windows.get(cluster)?.rings ?? new Map()).entries()].filter(([k]) =>
      k.startsWith("1\u0001"),
    );
    const data = new Float32Array(rings.length * buckets * METRICS);
    rings.forEach(([, ring], i) => {
      for (let b = from; b <= to; b++) {
        const off = ring.find(b);
        if (off >= 0) data.set(ring.data.subarray(off, off + METRICS), (i * buckets + (b - from)) * METRICS);
      }
    });
    const r = await this.d.pool.run({ op: "topn", n: rings.length, buckets, limit, data }, [
      data.buffer as ArrayBuffer,
    ]);
    return {
      cluster,
      window_s: windowS,
      backends: r.rows.map((x) => ({
        backend: (rings[x.i] as [string, unknown])[0].slice(2),
        rtime_ms: x.rt,
        rtime_p50_ms: x.p50,
        rtime_p95_ms: x.p95,
        ttime_ms: x.tt,
        requests: x.req,
      })),
    };
  }

  httpCodes(cluster: string, windowS: number): z.input<typeof StatsHttpCodesReply> {
    const step = this.d.stepMs;
    const to = Math.floor(Date.now() / step);
    const from = to - Math.max(1, Math.ceil((windowS * 1000) / step)) + 1;
    const classes = () => ({ "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, other: 0 });
    const total = classes();
    const fe: Array<{ name: string; classes: ReturnType<typeof classes> }> = [];
    const be: Array<{ name: string; classes: ReturnType<typeof classes> }> = [];
    for (const [k, ring] of this.d.model.windows.get(cluster)?.rings ?? []) {
      const c = classes();
      for (let b = from; b <= to; b++) {
        const off = ring.find(b);
        if (off < 0) continue;
        const d = ring.data;
        c["1xx"] += d[off + Mx.h1] as number;
        c["2xx"] += d[off + Mx.h2] as number;
        c["3xx"] += d[off + Mx.h3] as number;
        c["4xx"] += d[off + Mx.h4] as number;
        c["5xx"] += d[off + Mx.h5] as number;
        c.other += d[off + Mx.hother] as number;
      }
      const name = k.slice(2);
      if (k.startsWith("0\u0001")) {
        fe.push({ name, classes: c });
        for (const key of Object.keys(total) as Array<keyof typeof total>) total[key] += c[key];
      } else be.push({ name, classes: c });
    }
    return {
      cluster,
      window_s: windowS,
      total: Object.values(total).reduce((a, b) => a + b, 0),
      classes: total,
      codes: {},
      frontends: fe.sort((a, b) => (a.name < b.name ? -1 : 1)),
      backends: be.sort((a, b) => (a.name < b.name ? -1 : 1)),
    };
  }

  async sessions(cluster: string, limit: number): Promise<z.input<typeof StatsSessionsReply>> {
    const now = Date.now();
    const nodes = this.fresh(cluster, now);
    const answers = await Promise.all(
      nodes.map(async (n) => {
        try {
          const r = await call<HaproxySessionsReply>(
            this.d.nc,
            Subjects.stats.haproxySessions(cluster, n.node),
            { limit },
            { timeoutMs: this.d.sessionsTimeoutMs, noRespondersBudgetMs: 200 },
          );
          return { node: n.node, ok: true as const, r };
        } catch (err) {
          return { node: n.node, ok: false as const, error: (err as Error).message };
        }
      }),
    );
    const all = answers.flatMap((a) => (a.ok ? a.r.sessions.map((s) => ({ ...s, node: a.node })) : []));
    const total = answers.reduce((t, a) => t + (a.ok ? a.r.total : 0), 0);
    const kept = all.slice(0, limit);
    const ips = [...new Set(kept.map((s) => s.src).filter((s): s is string => !!s))];
    const geo = await this.d.pool.geoip(this.d.geo, ips);
    const byIp = new Map(ips.map((ip, i) => [ip, geo[i]]));
    const byCountry: Record<string, number> = {};
    const sessions = kept.map((s) => {
      const g = (s.src ? byIp.get(s.src) : undefined) ?? {
        label: "reserved" as const,
        range: "non-ip",
        country: null,
        asn: null,
        as_org: null,
      };
      const key = g.label === "public" ? (g.country ?? "unknown") : g.label;
      byCountry[key] = (byCountry[key] ?? 0) + 1;
      return { ...s, geo: g };
    });
    return {
      cluster,
      ts: now,
      total,
      truncated: total > kept.length || answers.some((a) => a.ok && a.r.truncated),
      nodes: answers.map((a) => ({
        node: a.node,
        ok: a.ok,
        total: a.ok ? a.r.total : 0,
        error: a.ok ? null : a.error,
      })),
      by_country: byCountry,
      sessions,
    };
  }

  geoipStatus(): z.input<typeof GeoipStatusReply> {
    const g = this.d.geo;
    const i = g.info;
    return {
      database: i?.path ?? "",
      source: i?.source ?? "bundled",
      type: i?.type ?? "",
      build_date: i?.buildDate ?? "",
      records: i?.records ?? 0,
      ip_version: i?.ipVersion ?? 0,
      last_reload: g.lastReload?.toISOString() ?? null,
      reloads: g.reloads,
      fallback: g.fallback,
      asn_database: g.asnPath,
      last_error: g.lastError,
    };
  }

  /**
   * WireGuard peers of an interface with their history: memory answers from its first whole
   * bucket on (bounded by the ring), PostgreSQL before that — the 10 s table while the window
   * fits its retention, the 1 min table beyond — so a restarted instance still answers history.
   * Near the boundary the 10 s rows are taken bucket by bucket and memory fills only the
   * buckets they lack (its partial first one, the ones not written yet): no point counts a
   * bucket twice. Peers only the tables know (removed, or not seen since a restart) are listed
   * with their history and no current state.
   */
  async wireguard(
    iface: string,
    q: { window: number; step: number; peer?: string | undefined; page?: number; per_page?: number },
  ): Promise<z.input<typeof StatsWgReply>> {
    const page = q.page ?? 1;
    const perPage = q.per_page ?? 50;
    const now = Date.now();
    const { wg, wgStore } = this.d;
    const peers = wg.ifaces.get(iface) ?? new Map<string, WgPeer>();
    const res = wg.stepMs;
    const windowMs = q.window * 1000;
    const dbRes = wgStore && windowMs > this.d.keep10sMs ? 60_000 : res;
    const stepMs = Math.max(dbRes, Math.ceil((q.step * 1000) / dbRes) * dbRes);
    const points = Math.ceil(windowMs / stepMs);
    if (points > WG_MAX_POINTS)
      throw validationError([
        {
          field: "query.step",
          message: `window/step gives ${points} points per peer; at most ${WG_MAX_POINTS}`,
          type: "custom",
        },
      ]);
    const matches = (p: WgPeer) => !q.peer || p.publicKey === q.peer || p.peerId === q.peer;
    const end = Math.ceil((now + 1) / stepMs) * stepMs;
    const start = end - points * stepMs;
    // Memory is whole from `wholeMs` on (its first bucket may be partial; the ring's oldest
    // ones may be overwritten). Before that: the table at `dbRes` up to `segMs` (aligned to
    // it), then the 10 s table bucket by bucket, memory filling the buckets it lacks.
    let wholeMs = Number.NEGATIVE_INFINITY;
    let segMs = Number.NEGATIVE_INFINITY;
    if (wgStore) {
      const lowB = Math.floor(now / res) - wg.cap + 1;
      const f = wg.first.get(iface);
      const whole = wg.firstWhole(iface);
      wholeMs = whole === undefined ? Number.POSITIVE_INFINITY : Math.max(whole, lowB) * res;
      segMs = f ? Math.floor((Math.max(f.bucket, lowB) * res) / dbRes) * dbRes : wholeMs;
    }
    // Per peer: rx, tx sums and the smallest handshake age + 1 (0 = none) per point.
    const acc = new Map<string, { peerId: string | null; v: Float64Array; has: Uint8Array }>();
    const accOf = (key: string, peerId: string | null) => {
      let a = acc.get(key);
      if (!a) {
        a = { peerId, v: new Float64Array(points * 3), has: new Uint8Array(points) };
        acc.set(key, a);
      } else a.peerId ??= peerId;
      return a;
    };
    const add = (a: { v: Float64Array; has: Uint8Array }, p: number, rx: number, tx: number, hs: number) => {
      a.has[p] = 1;
      a.v[p * 3] = (a.v[p * 3] as number) + rx;
      a.v[p * 3 + 1] = (a.v[p * 3 + 1] as number) + tx;
      const c = a.v[p * 3 + 2] as number;
      if (hs > 0) a.v[p * 3 + 2] = c === 0 ? hs : Math.min(c, hs);
    };
    const pointOf = (ms: number) => Math.floor((ms - start) / stepMs);
    // The page: every peer memory knows or the tables hold in the window, by public key.
    const table = dbRes === 60_000 ? "stats_wg_1m" : "stats_wg_10s";
    const dbTo = Math.min(segMs, end);
    const segFrom = Math.max(start, segMs);
    const segTo = Math.min(wholeMs, end);
    const all = new Set<string>();
    for (const p of peers.values()) if (matches(p)) all.add(p.publicKey);
    if (wgStore) {
      if (dbTo > start) for (const k of await wgStore.peerKeys(table, iface, start, dbTo, q.peer)) all.add(k);
      if (segTo > segFrom)
        for (const k of await wgStore.peerKeys("stats_wg_10s", iface, segFrom, segTo, q.peer)) all.add(k);
    }
    const sorted = [...all].sort();
    const keys = sorted.slice((page - 1) * perPage, page * perPage);
    if (keys.length * points > WG_MAX_REPLY_POINTS)
      throw validationError([
        {
          field: "query.per_page",
          message: `window/step gives ${points} points for each of ${keys.length} peers; at most ${WG_MAX_REPLY_POINTS} in one page: lower per_page or raise step`,
          type: "custom",
        },
      ]);
    const onPage = new Set(keys);
    for (const k of keys) accOf(k, peers.get(k)?.peerId ?? null);
    const filter = { peer: q.peer, keys };
    /** `${public key}\u0001${bucket}` of the 10 s rows read for the segment. */
    const stored = new Set<string>();
    if (wgStore && keys.length > 0) {
      if (dbTo > start)
        for (const r of await wgStore.points(table, iface, start, dbTo, stepMs, filter))
          if (r.p >= 0 && r.p < points)
            add(accOf(r.publicKey, r.peerId), r.p, r.rx, r.tx, r.hsAge === null ? 0 : r.hsAge + 1);
      if (segTo > segFrom)
        for (const r of await wgStore.points("stats_wg_10s", iface, segFrom, segTo, res, filter)) {
          const ms = segFrom + r.p * res;
          stored.add(`${r.publicKey}\u0001${ms / res}`);
          add(accOf(r.publicKey, r.peerId), pointOf(ms), r.rx, r.tx, r.hsAge === null ? 0 : r.hsAge + 1);
        }
    }
    for (const p of peers.values()) {
      if (!onPage.has(p.publicKey)) continue;
      const a = accOf(p.publicKey, p.peerId);
      for (let b = Math.ceil(Math.max(start, segMs) / res); b * res < end; b++) {
        if (b * res < wholeMs && stored.has(`${p.publicKey}\u0001${b}`)) continue;
        const off = p.ring.find(b);
        if (off < 0) continue;
        const d = p.ring.data;
        add(
          a,
          pointOf(b * res),
          d[off + WG_RX] as number,
          d[off + WG_TX] as number,
          d[off + WG_HS] as number,
        );
      }
    }
    const sec = stepMs / 1000;
    const out: z.input<typeof StatsWgReply>["peers"] = [];
    for (const [key, a] of acc) {
      const history: Array<Array<number | null>> = new Array(points);
      for (let i = 0; i < points; i++) {
        const ts = start + i * stepMs;
        const hs = a.v[i * 3 + 2] as number;
        history[i] = a.has[i]
          ? [
              ts,
              r3((a.v[i * 3] as number) / sec),
              r3((a.v[i * 3 + 1] as number) / sec),
              hs > 0 ? hs - 1 : null,
            ]
          : [ts, null, null, null];
      }
      const p = peers.get(key);
      const nodes = p ? [...p.nodes.values()] : [];
      const latest = nodes.reduce<(typeof nodes)[number] | undefined>(
        (x, n) => (!x || n.ts > x.ts ? n : x),
        undefined,
      );
      out.push({
        public_key: key,
        peer_id: p?.peerId ?? a.peerId,
        nodes: nodes.map((n) => n.node).sort(),
        endpoint: latest?.endpoint ?? null,
        latest_handshake: Math.max(0, ...nodes.map((n) => n.handshake)),
        rx_bytes: nodes.reduce((x, n) => x + n.rx, 0),
        tx_bytes: nodes.reduce((x, n) => x + n.tx, 0),
        rx_rate: nodes.reduce((x, n) => x + n.rxRate, 0),
        tx_rate: nodes.reduce((x, n) => x + n.txRate, 0),
        history,
      });
    }
    return {
      interface: iface,
      ts: now,
      peers: out,
      total: sorted.length,
      page,
      per_page: perPage,
      pages: Math.max(1, Math.ceil(sorted.length / perPage)),
    };
  }
}
