/** Shapes shared by every domain: the error envelope, pagination, the principal. */
import { z } from "zod";
import { ALL_PERMS, ROLES } from "../perms.ts";

export const FieldIssueSchema = z
  .object({
    field: z
      .string()
      .describe("Dotted path of the offending field, e.g. `servers.0.port`; `body` for the whole body."),
    message: z.string().describe("What is wrong with it."),
    type: z.string().describe("Machine-readable kind of problem (e.g. `too_big`, `invalid_format`)."),
  })
  .describe("One field-level validation problem.");

export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.string().describe("Stable machine-readable error code, e.g. `validation_failed`."),
      message: z.string().describe("Human-readable summary; never contains secrets or internal detail."),
      request_id: z.string().describe("The request id, as echoed in `X-Request-ID`."),
      details: z.unknown().optional().describe("Structured context: for 422 a list of field issues."),
    }),
  })
  .describe("The one error envelope every non-2xx response uses.")
  .meta({ id: "ErrorEnvelope" });

export const SortOrder = z.enum(["asc", "desc"]).describe("Sort direction.");

/** `page`/`per_page`/`sort`/`order` query parameters shared by every list endpoint. */
export const ListQuery = z.object({
  page: z.coerce.number().int().min(1).default(1).describe("1-based page number."),
  per_page: z.coerce.number().int().min(1).max(200).default(50).describe("Items per page (1–200)."),
  sort: z
    .string()
    .regex(/^[a-z_]{1,40}$/)
    .optional()
    .describe("Field to sort by (snake_case)."),
  order: SortOrder.default("asc"),
});
export type ListQuery = z.infer<typeof ListQuery>;

/** The list envelope: `{items, total, page, per_page, pages}`. */
export function listOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item).describe("The items of this page."),
    total: z.number().int().describe("Number of items across all pages."),
    page: z.number().int().describe("This page's number (1-based)."),
    per_page: z.number().int().describe("Page size used."),
    pages: z.number().int().describe("Number of pages."),
  });
}
export function paginate<T>(all: readonly T[], q: Pick<ListQuery, "page" | "per_page">) {
  const total = all.length;
  const start = (q.page - 1) * q.per_page;
  return {
    items: all.slice(start, start + q.per_page),
    total,
    page: q.page,
    per_page: q.per_page,
    pages: Math.max(1, Math.ceil(total / q.per_page)),
  };
}

export const ResourceScope = z
  .object({
    haproxy_clusters: z
      .array(z.string())
      .optional()
      .describe("HAProxy clusters this principal may see; absent = all."),
    wg_interfaces: z
      .array(z.string())
      .optional()
      .describe("WireGuard interfaces this principal may see; absent = all."),
    adapter_controllers: z
      .array(z.string())
      .optional()
      .describe("Adapter controllers this principal may see; absent = all."),
  })
  .describe("Limits a principal to named resources; others look like 404 to it.");
export type ResourceScope = z.infer<typeof ResourceScope>;

/** Who is asking, as verified by a gateway and carried in the `ep-principal` header. */
export const Principal = z
  .object({
    kind: z.enum(["api_key", "session", "jwt", "system"]).describe("How the principal authenticated."),
    user_id: z.string().describe("The user behind the credential."),
    username: z.string().describe("That user's name (for audit)."),
    role: z
      .enum(ROLES as [string, ...string[]])
      .describe("The user's role, read from the store at verification."),
    key_id: z.string().optional().describe("The API key id, when authenticated by key."),
    session_id: z.string().optional().describe("The session id, when authenticated by session."),
    permissions: z
      .array(z.enum(ALL_PERMS as unknown as [string, ...string[]]))
      .describe("Effective permissions."),
    resources: ResourceScope.nullable().optional().describe("Resource scope; null/absent = unrestricted."),
    rate_limit_rpm: z.number().int().positive().optional().describe("Per-credential rate limit override."),
  })
  .describe("A verified caller.");
export type Principal = z.infer<typeof Principal>;

export const Empty = z.object({}).describe("No content.");

/** How a service returns bytes (an image, a file) for a route with `replyType: "binary"`. */
export const BinaryReply = z
  .object({
    content_type: z.string().describe("Media type of the bytes, e.g. `image/png`."),
    body_base64: z.string().describe("The bytes, base64-encoded for the NATS hop."),
    filename: z.string().optional().describe("Suggested download name (Content-Disposition: attachment)."),
  })
  .describe("Binary content relayed by the gateway as raw bytes.");
export type BinaryReply = z.infer<typeof BinaryReply>;
