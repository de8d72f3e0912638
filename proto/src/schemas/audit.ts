/** The audit event every mutation publishes to the AUDIT stream before it replies. */
import { z } from "zod";

export const AuditResult = z
  .enum(["success", "failure", "denied"])
  .describe("Outcome of the audited action.");
export type AuditResult = z.infer<typeof AuditResult>;

export const AuditEvent = z
  .object({
    id: z.string().describe("Event id (`evt_…`), unique; used to de-duplicate."),
    time: z.string().describe("When it happened (ISO 8601, UTC)."),
    actor_type: z.enum(["user", "api_key", "system", "anonymous"]).describe("Kind of actor."),
    actor_id: z.string().nullable().describe("User or key id; null for anonymous."),
    actor_name: z.string().nullable().describe("Username behind the actor, if known."),
    action: z.string().describe("What was done, e.g. `setup.complete`, `auth.login_failed`."),
    category: z.string().describe("Area: `auth`, `haproxy`, `wireguard`, `adapters`, …"),
    target_type: z.string().nullable().describe("Kind of object acted on."),
    target_id: z.string().nullable().describe("Id of the object acted on."),
    result: AuditResult,
    request_id: z.string().nullable().describe("Request id of the API call."),
    source_ip: z.string().nullable().describe("Client IP as seen by the gateway."),
    summary: z
      .record(z.string(), z.unknown())
      .describe("Redacted summary of the change; never a secret, password, private key or token."),
  })
  .describe("An audit event.");
export type AuditEvent = z.infer<typeof AuditEvent>;
