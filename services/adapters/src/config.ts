/** Adapters service configuration, parsed once from the environment. */
import { BaseEnv, parseEnv } from "@edgeplane/proto";
import { z } from "zod";

const Bool = z
  .enum(["true", "false", "1", "0"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1");

export const AdaptersEnv = BaseEnv.extend({
  DATABASE_URL: z.string().min(1).describe("PostgreSQL DSN."),
  EP_SEALING_KEY: z
    .string()
    .refine((v) => /^[A-Za-z0-9+/]{43}=$/.test(v) && Buffer.from(v, "base64").length === 32, {
      message: "must be 32 bytes, base64-encoded",
    })
    .describe("AES-256-GCM key sealing vendor credentials at rest (32 bytes, base64)."),
  EP_ADAPTER_READ_ONLY: Bool.default(true).describe(
    "Deployment gate: while true (the default) every change stays staged and apply is refused.",
  ),
  EP_ADAPTER_READ_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(120_000)
    .default(8_000)
    .describe("Timeout of one live read or connection test."),
  EP_ADAPTER_WRITE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(300_000)
    .default(30_000)
    .describe("Timeout of one device write (apply, confirm, rollback)."),
  EP_ADAPTER_APPLY_TIMEOUT_S: z.coerce
    .number()
    .int()
    .min(5)
    .max(3600)
    .default(120)
    .describe("A change still `applying` after this long (its worker died) becomes `failed`."),
  EP_ADAPTER_SWEEP_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(60_000)
    .default(1_000)
    .describe("How often each worker looks for expired commit-confirm windows and stuck applies."),
  EP_DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10).describe("PostgreSQL pool size."),
});
export type AdaptersConfig = Readonly<z.infer<typeof AdaptersEnv>>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AdaptersConfig {
  return parseEnv(AdaptersEnv, env);
}
