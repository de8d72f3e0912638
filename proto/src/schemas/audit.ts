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

/** A row of the hash-chained audit table. */
export const AuditRow = AuditEvent.omit({ id: true })
  .extend({
    seq: z.number().int().describe("Position in the chain (1, 2, …)."),
    event_id: z.string().describe("The event's id (`evt_…`)."),
    prev_hash: z.string().describe("Hex SHA-256 of the previous row (zeros for the first)."),
    row_hash: z.string().describe("Hex SHA-256(prev_hash ‖ canonical JSON of this row)."),
  })
  .describe("An appended audit row.");
export type AuditRow = z.infer<typeof AuditRow>;

const isoTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), "not an ISO 8601 time")
  .describe("ISO 8601 time.");
const filterText = (what: string) =>
  z.string().min(1).max(128).optional().describe(`Only rows whose ${what} equals this.`);

export const AuditQuery = z.object({
  actor: filterText("actor id or actor name"),
  action: filterText("action"),
  category: filterText("category"),
  target_type: filterText("target type"),
  target_id: filterText("target id"),
  result: AuditResult.optional().describe("Only rows with this result."),
  since: isoTime.optional().describe("Only rows at or after this time (ISO 8601)."),
  until: isoTime.optional().describe("Only rows before this time (ISO 8601)."),
  page: z.coerce.number().int().min(1).default(1).describe("1-based page number."),
  per_page: z.coerce.number().int().min(1).max(1000).default(50).describe("Rows per page (1–1000)."),
  limit: z.coerce.number().int().min(1).max(1000).optional().describe("Compatibility: rows per page."),
  offset: z.coerce.number().int().min(0).optional().describe("Compatibility: rows to skip."),
  order: z.enum(["asc", "desc"]).default("desc").describe("By sequence: newest first by default."),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

export const AuditPage = z
  .object({
    items: z.array(AuditRow).describe("The rows of this page."),
    total: z.number().int().describe("Rows matching the filters."),
    page: z.number().int().describe("This page's number (1-based)."),
    per_page: z.number().int().describe("Page size used."),
    pages: z.number().int().describe("Number of pages."),
  })
  .describe("A page of audit rows.");

export const AuditExportQuery = AuditQuery.omit({
  page: true,
  per_page: true,
  limit: true,
  offset: true,
  order: true,
}).extend({
  format: z.enum(["csv"]).default("csv").describe("Export format (CSV)."),
});

export const AuditVerifyReply = z
  .object({
    ok: z.boolean().describe("True when every link, every checkpoint and the chain head check out."),
    checked: z.number().int().describe("Rows re-hashed."),
    checkpoints: z.number().int().describe("Signed checkpoints verified."),
    head_seq: z.number().int().describe("Last sequence number in the table."),
    first_bad_row: z.number().int().optional().describe("Sequence number of the first broken row."),
    reason: z.string().optional().describe("What is wrong with it."),
  })
  .describe("Result of re-walking the audit chain.");
export type AuditVerifyReply = z.infer<typeof AuditVerifyReply>;
