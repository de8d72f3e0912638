// Launcher configuration: parsed once from an env object by one zod schema, frozen.
// Every invalid variable is reported at once, by name, so `make up` fails with one
// message the operator can fix in one go.
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";

export const LogLevel = {
  Trace: "trace",
  Debug: "debug",
  Info: "info",
  Warn: "warn",
  Error: "error",
  Fatal: "fatal",
  Silent: "silent",
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

/** .env files and `FOO= make up` produce empty strings: treat them as "not set". */
const unsetIfEmpty = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema.optional());

const Port = z
  .string()
  .regex(/^\d{1,5}$/, "must be a TCP port number (1-65535)")
  .transform(Number)
  .refine((n) => n >= 1 && n <= 65535, "must be a TCP port number (1-65535)");

const PostgresUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === "postgres:" || u.protocol === "postgresql:") && u.hostname !== "";
  } catch {
    return false;
  }
}, "must be a postgres:// or postgresql:// URL with a host");

/** One NATS server address: a nats/tls/ws/wss URL, or host:port as nats.js also accepts. */
function isNatsServer(s: string): boolean {
  const withScheme = /^[a-z]+:\/\//i.test(s) ? s : `nats://${s}`;
  try {
    const u = new URL(withScheme);
    return ["nats:", "tls:", "ws:", "wss:"].includes(u.protocol) && u.hostname !== "";
  } catch {
    return false;
  }
}
const NatsUrls = z
  .string()
  .refine(
    (s) => s.split(",").every((part) => isNatsServer(part.trim())),
    "must be a comma-separated list of nats://, tls://, ws:// or wss:// URLs (or host:port)",
  );

const Schema = z.object({
  /** Where every stateful piece of the one-machine mesh lives (secrets, NATS store, PostgreSQL). */
  EP_DATA_DIR: optional(z.string().refine((s) => !s.includes("\0"), "must not contain NUL")),
  /** Port of the gateway's HTTP listener (bound on 127.0.0.1). */
  EP_HTTP_PORT: optional(Port),
  /** External PostgreSQL; when unset an embedded PostgreSQL is started in $EP_DATA_DIR/pg. */
  DATABASE_URL: optional(PostgresUrl),
  /** External NATS (with JetStream); when unset a child nats-server is started. */
  EP_NATS_URL: optional(NatsUrls),
  /** Log level for the launcher and every service. */
  EP_LOG_LEVEL: optional(z.enum(Object.values(LogLevel) as [LogLevel, ...LogLevel[]])),
  /** nats-server binary to run when EP_NATS_URL is unset. */
  EP_NATS_SERVER_BIN: optional(z.string()),
  /** https://no-color.org: any non-empty value disables coloured prefixes. */
  NO_COLOR: optional(z.string()),
});

export interface LauncherConfig {
  /** Absolute path of the data directory. */
  readonly dataDir: string;
  readonly httpPort: number;
  /** External DSN, or undefined to run the embedded PostgreSQL. */
  readonly databaseUrl: string | undefined;
  /** External NATS, or undefined to run a child nats-server. */
  readonly natsUrl: string | undefined;
  readonly logLevel: LogLevel;
  readonly natsServerBin: string;
  readonly noColor: boolean;
}

/** Thrown by loadConfig; `issues` has one "VARIABLE: problem" line per invalid setting. */
export class ConfigError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`invalid launcher configuration:\n  ${issues.join("\n  ")}`);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): LauncherConfig {
  const parsed = Schema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? "environment");
      const got = env[name];
      return `${name}: ${i.message}${got === undefined ? "" : ` (got ${JSON.stringify(got)})`}`;
    });
    throw new ConfigError(issues);
  }
  const e = parsed.data;
  const dataDir = e.EP_DATA_DIR ?? ".edgeplane";
  return Object.freeze({
    dataDir: isAbsolute(dataDir) ? resolve(dataDir) : resolve(cwd, dataDir),
    httpPort: e.EP_HTTP_PORT ?? 8080,
    databaseUrl: e.DATABASE_URL,
    natsUrl: e.EP_NATS_URL,
    logLevel: e.EP_LOG_LEVEL ?? LogLevel.Info,
    natsServerBin: e.EP_NATS_SERVER_BIN ?? "nats-server",
    noColor: e.NO_COLOR !== undefined,
  });
}
