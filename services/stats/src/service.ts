/**
 * The stats service: every instance subscribes to every sample (plain subscriptions, so all
 * instances hold the same windows and any of them answers queries, queue group), the lease
 * holder alone writes history to PostgreSQL, and the fleet-wide Prometheus exposition is
 * served on `EP_STATS_METRICS_PORT`. Heavy work runs in the piscina pool.
 */
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import {
  geoipStatusRoute,
  HaproxySample,
  Name,
  type RouteSpec,
  type RunServiceOptions,
  ServiceName,
  Subjects,
  statsCurrentRoute,
  statsHistoryRoute,
  statsHttpCodesRoute,
  statsSessionsRoute,
  statsSlowestRoute,
  statsWgRoute,
  WgStatsSample,
} from "@edgeplane/proto";
import { z } from "zod";
import { StatsApi } from "./api.ts";
import { STEP_MS, StatsEnv } from "./config.ts";
import { GeoDb } from "./geoip.ts";
import { HistoryStore, HistoryWriter } from "./history.ts";
import { Lease } from "./lease.ts";
import { renderMetrics } from "./metrics.ts";
import { HaproxyModel } from "./model.ts";
import { StatsPool } from "./pool.ts";
import { WgModel } from "./wg.ts";
import { WgHistoryStore, WgHistoryWriter } from "./wg-history.ts";

export const VERSION = "0.1.0";
export const LEASE_BUCKET = "ep_stats_leases";
export const WRITER_KEY = "history-writer";

/** `ep.v1.stats.cluster.<token>.<verb>` → cluster name (the gateway filled it from a validated param or `default`). */
function clusterOf(subject: string): string {
  const name = (subject.split(".")[4] ?? "").replaceAll("~", ".");
  const r = Name.safeParse(name);
  if (!r.success) throw new Error(`no cluster in subject ${subject}`);
  return name;
}

/** The service side accepts requests of the canonical route and of its PatchPanel alias (no params). */
const loose = <R extends RouteSpec>(r: R): R => ({ ...r, params: z.object({}).passthrough() }) as R;

export const service: RunServiceOptions<typeof StatsEnv> = {
  name: ServiceName.Stats,
  version: VERSION,
  description: "Stats aggregator",
  env: StatsEnv,
  async setup(rt) {
    const { config, nc, svc, log } = rt;
    const instance = config.EP_SERVICE_INSTANCE ?? `${hostname()}-${process.pid}`;
    const windowBuckets = Math.ceil((config.EP_STATS_WINDOW_S * 1000) / STEP_MS) + 1;
    const model = new HaproxyModel({ stepMs: STEP_MS, windowBuckets });
    const geo = new GeoDb({
      path: config.EP_STATS_GEOIP_DB,
      asnPath: config.EP_STATS_GEOIP_ASN_DB,
      watch: true,
      onReload: (i) => log.info({ path: i.path, type: i.type, build: i.buildDate }, "geoip database loaded"),
      onError: (err) => log.warn({ err: err.message }, "geoip database load failed"),
    });
    await geo.load();
    rt.onStop(() => geo.close());
    const pool = new StatsPool(config.EP_STATS_POOL_THREADS);
    rt.onStop(() => pool.close());

    // Samples: every instance gets every one.
    let invalid = 0;
    const haSub = nc.subscribe(Subjects.stats.haproxySamplesAll, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const r = HaproxySample.safeParse(msg.json());
          if (r.success) model.ingest(r.data);
          else if (invalid++ % 100 === 0)
            log.warn({ subject: msg.subject, issue: r.error.issues[0] }, "invalid sample");
        } catch {
          if (invalid++ % 100 === 0) log.warn({ subject: msg.subject }, "undecodable sample");
        }
      },
    });
    // Made just before subscribing: its start time tells which first buckets may be partial.
    const wg = new WgModel(STEP_MS, windowBuckets);
    const wgSub = nc.subscribe("ep.v1.wg.samples.>", {
      callback: (err, msg) => {
        if (err) return;
        try {
          const r = WgStatsSample.safeParse(msg.json());
          if (r.success) wg.ingest(r.data);
        } catch {}
      },
    });
    rt.onStop(() => {
      haSub.unsubscribe();
      wgSub.unsubscribe();
    });
    const expiry = setInterval(() => model.expire(Date.now(), 10 * 60_000), 30_000);
    expiry.unref();
    rt.onStop(() => clearInterval(expiry));

    // History: one writer, elected through KV.
    let store: HistoryStore | null = null;
    let wgStore: WgHistoryStore | null = null;
    if (config.DATABASE_URL) {
      store = new HistoryStore(config.DATABASE_URL);
      wgStore = new WgHistoryStore(store.pool);
      const lease = await Lease.start(nc, {
        bucket: LEASE_BUCKET,
        key: WRITER_KEY,
        holder: instance,
        leaseMs: config.EP_STATS_LEASE_MS,
        heartbeatMs: config.EP_STATS_HEARTBEAT_MS,
        replicas: config.EP_STREAM_REPLICAS,
        onChange: (leader) =>
          log.info({ instance, leader }, leader ? "history writer: leading" : "history writer: standing by"),
      });
      const writerOpts = {
        writer: instance,
        stepMs: STEP_MS,
        graceMs: config.EP_STATS_GRACE_MS,
        keep10sMs: config.EP_STATS_RETENTION_10S_H * 3600_000,
        keep1mMs: config.EP_STATS_RETENTION_1M_D * 86_400_000,
        isLeader: () => lease.isLeader(),
      };
      const writer = new HistoryWriter(store, model, pool, {
        ...writerOpts,
        log,
        wg: new WgHistoryWriter(wgStore, wg, writerOpts),
      });
      let busy = false;
      const flush = setInterval(() => {
        if (busy) return;
        busy = true;
        writer
          .tick()
          .catch((err: Error) => log.warn({ err: err.message }, "history write failed"))
          .finally(() => {
            busy = false;
          });
      }, config.EP_STATS_FLUSH_MS);
      rt.onStop(async () => {
        clearInterval(flush);
        await lease.stop();
        await store?.close();
      });
    } else log.warn("no DATABASE_URL: history is kept in memory only");

    const api = new StatsApi({
      model,
      wg,
      pool,
      geo,
      store,
      wgStore,
      nc,
      stepMs: STEP_MS,
      sessionsTimeoutMs: config.EP_STATS_SESSIONS_TIMEOUT_MS,
      keep10sMs: config.EP_STATS_RETENTION_10S_H * 3600_000,
    });
    svc.route(loose(statsCurrentRoute), (req, ctx) => api.current(clusterOf(ctx.subject), req.query.view));
    svc.route(loose(statsHistoryRoute), (req, ctx) => api.history(clusterOf(ctx.subject), req.query));
    svc.route(loose(statsSlowestRoute), (req, ctx) =>
      api.slowest(clusterOf(ctx.subject), req.query.limit, req.query.window),
    );
    svc.route(loose(statsHttpCodesRoute), (req, ctx) =>
      api.httpCodes(clusterOf(ctx.subject), req.query.window),
    );
    svc.route(loose(statsSessionsRoute), (req, ctx) => api.sessions(clusterOf(ctx.subject), req.query.limit));
    svc.route(geoipStatusRoute, () => api.geoipStatus());
    svc.route(statsWgRoute, (req) => api.wireguard(req.params.interface, req.query));

    // Fleet-wide Prometheus exposition (own listener: no default Node metrics in it).
    if (config.EP_STATS_METRICS_PORT > 0) {
      const http: Server = createServer((req, res) => {
        if (req.url === "/metrics" || req.url?.startsWith("/metrics?")) {
          res.setHeader("content-type", "text/plain; version=0.0.4; charset=utf-8");
          res.end(renderMetrics(model, wg, { maxSeries: config.EP_STATS_METRICS_MAX_SERIES }));
        } else {
          res.statusCode = 404;
          res.end();
        }
      });
      await new Promise<void>((r) =>
        http.listen(config.EP_STATS_METRICS_PORT, config.EP_STATS_METRICS_HOST, r),
      );
      log.info({ port: config.EP_STATS_METRICS_PORT }, "fleet metrics listening");
      rt.onStop(() => new Promise<void>((r) => http.close(() => r())));
    }
  },
};
