/**
 * Configuration from the environment: one zod schema per service, parsed once, frozen.
 * All invalid settings are reported at once, each named by its variable. The env object
 * is a parameter so tests never mutate `process.env`.
 */
import { hostname } from "node:os";
import { z } from "zod";

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv): Readonly<z.infer<S>> {
  const r = schema.safeParse(env);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`));
  }
  return Object.freeze(r.data);
}

export const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** Settings every service process shares. */
export const BaseEnv = z.object({
  EP_NATS_URL: z
    .string()
    .min(1)
    .default("nats://127.0.0.1:4222")
    .describe("Comma-separated NATS server URLs."),
  EP_NATS_CREDS: z.string().optional().describe("Path of a NATS credentials file (production)."),
  EP_SERVICE_INSTANCE: z
    .string()
    .optional()
    .describe("Instance name shown in discovery (default: host-pid)."),
  EP_NODE_NAME: z.string().default(hostname()).describe("Name of the node this process runs on."),
  EP_LOG_LEVEL: LogLevel.default("info"),
  EP_HEALTH_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(0)
    .describe("Port of the /healthz + /metrics listener; 0 = disabled."),
  EP_HEALTH_HOST: z.string().default("127.0.0.1").describe("Address of the /healthz + /metrics listener."),
  EP_STREAM_REPLICAS: z.coerce
    .number()
    .int()
    .min(1)
    .max(5)
    .default(1)
    .describe("JetStream replicas for new streams."),
});
export type BaseEnv = z.infer<typeof BaseEnv>;
