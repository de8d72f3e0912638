// What the launcher runs of the repository, and the environment contract each service
// receives. Pure functions: main.ts does the spawning.
import { join, resolve } from "node:path";
import type { LogLevel } from "./config.ts";
import type { Secrets } from "./secrets.ts";

/** Every service, one instance each. The gateway is listed first: it is also stopped first. */
export const SERVICES = ["gateway", "auth", "haproxy-agent", "wg-agent", "adapters", "stats"] as const;
export type ServiceName = (typeof SERVICES)[number];

export const serviceMain = (repoRoot: string, name: ServiceName) =>
  join(repoRoot, "services", name, "src", "main.ts");
export const migrateScript = (repoRoot: string) => join(repoRoot, "proto", "src", "runtime", "migrate.ts");
export const setupTokenFile = (dataDir: string) => join(dataDir, "setup-token");

/** Where the gateway listens: loopback only, this is a one-machine developer setup. */
export const HTTP_HOST = "127.0.0.1";

export interface MeshContext {
  readonly natsUrl: string;
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly secrets: Pick<Secrets, "EP_KEY_PEPPER" | "EP_SEALING_KEY">;
  readonly nodeName: string;
  readonly httpPort: number;
  readonly logLevel: LogLevel;
  /** Port of the stats service's fleet-wide `/metrics` (loopback); unset = off. */
  readonly statsMetricsPort?: number;
}

/** Environment of the migration run (`proto/src/runtime/migrate.ts`): auth's, own instance id. */
export function migrateEnv(base: NodeJS.ProcessEnv, ctx: MeshContext): NodeJS.ProcessEnv {
  return { ...serviceEnv("auth", base, ctx), EP_SERVICE_INSTANCE: "auth-migrate" };
}

/** The parent's environment plus the mesh contract; ours wins over inherited values. */
export function serviceEnv(name: ServiceName, base: NodeJS.ProcessEnv, ctx: MeshContext): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    EP_NATS_URL: ctx.natsUrl,
    DATABASE_URL: ctx.databaseUrl,
    EP_DATA_DIR: ctx.dataDir,
    EP_KEY_PEPPER: ctx.secrets.EP_KEY_PEPPER,
    EP_SEALING_KEY: ctx.secrets.EP_SEALING_KEY,
    EP_SERVICE_INSTANCE: `${name}-1`,
    EP_NODE_NAME: ctx.nodeName,
    EP_LOG_LEVEL: ctx.logLevel,
  };
  if (name === "gateway") {
    env.EP_HTTP_PORT = String(ctx.httpPort);
    env.EP_HTTP_HOST = HTTP_HOST;
  }
  if (name === "auth") env.EP_SETUP_TOKEN_FILE = setupTokenFile(ctx.dataDir);
  if (name === "haproxy-agent") {
    // A managed local haproxy (master-worker child, unprivileged ports in the document) for
    // cluster `default`, files under <data>/haproxy/default; without haproxy installed the
    // agent reports not_installed and keeps answering.
    env.EP_HAPROXY_CLUSTER = "default";
    env.EP_HAPROXY_DIR = join(resolve(ctx.dataDir), "haproxy", "default");
    env.EP_HAPROXY_CONTROL = "auto";
  }
  if (name === "wg-agent") {
    // wireguard-go when root with wireguard-go/ip/TUN, else render-only (logged, and shown
    // in GET /api/v1/wireguard/interfaces/{name}/status). Devices are named ep<interface>.
    env.EP_WG_MODE = "auto";
    env.EP_WG_STATE_DIR = join(ctx.dataDir, "wg");
    env.EP_WG_DEVICE_PREFIX = "ep";
  }
  if (name === "stats" && ctx.statsMetricsPort) {
    // Fleet-wide Prometheus exposition on loopback; the stats service logs the port. An
    // EP_STATS_METRICS_PORT of the caller's environment wins (0 turns it off).
    env.EP_STATS_METRICS_PORT = base.EP_STATS_METRICS_PORT ?? String(ctx.statsMetricsPort);
    env.EP_STATS_METRICS_HOST = base.EP_STATS_METRICS_HOST ?? HTTP_HOST;
  }
  return env;
}
