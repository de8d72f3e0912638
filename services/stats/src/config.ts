/** The stats service's environment (parsed once, frozen; see `BaseEnv` for the shared part). */
import { BaseEnv } from "@edgeplane/proto";
import { z } from "zod";

const int = (d: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(d);

export const StatsEnv = BaseEnv.extend({
  DATABASE_URL: z
    .string()
    .optional()
    .describe("PostgreSQL for history; without it history is memory-only (1 h)."),
  EP_STATS_POOL_THREADS: int(2, 1, 64).describe("Worker threads of the piscina pool."),
  EP_STATS_GEOIP_DB: z
    .string()
    .optional()
    .describe("GeoIP mmdb path (default: the bundled GeoLite2 country database)."),
  EP_STATS_GEOIP_ASN_DB: z.string().optional().describe("Optional GeoLite2/GeoIP2 ASN mmdb path."),
  EP_STATS_METRICS_PORT: int(0, 0, 65535).describe("Port of the fleet-wide /metrics listener; 0 = disabled."),
  EP_STATS_METRICS_HOST: z
    .string()
    .default("127.0.0.1")
    .describe("Address of the fleet-wide /metrics listener."),
  EP_STATS_METRICS_MAX_SERIES: int(200_000, 100, 10_000_000).describe(
    "Cap on exposed series (cardinality bound).",
  ),
  EP_STATS_WINDOW_S: int(3600, 60, 86_400).describe("In-memory window length (10 s buckets)."),
  EP_STATS_LEASE_MS: int(5000, 500, 60_000).describe(
    "History-writer lease: a silent holder is replaced after this.",
  ),
  EP_STATS_HEARTBEAT_MS: int(1000, 100, 30_000).describe("Lease renewal / contention period."),
  EP_STATS_FLUSH_MS: int(1000, 100, 60_000).describe("How often the writer looks for completed buckets."),
  EP_STATS_GRACE_MS: int(2500, 0, 60_000).describe(
    "Wait after a bucket's end for late samples before writing it.",
  ),
  EP_STATS_RETENTION_10S_H: int(24, 1, 24 * 90).describe("Hours of 10 s history kept."),
  EP_STATS_RETENTION_1M_D: int(30, 1, 3650).describe("Days of 1 min history kept."),
  EP_STATS_SESSIONS_TIMEOUT_MS: int(3000, 100, 60_000).describe(
    "How long to wait for each node's `show sess`.",
  ),
});
export type StatsEnv = z.infer<typeof StatsEnv>;

/** Bucket width of windows and of the first history table. */
export const STEP_MS = 10_000;
