/** The audit log's routes, answered by the auth service (the table's single writer). */
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import { AuditExportQuery, AuditPage, AuditQuery, AuditVerifyReply } from "../schemas/audit.ts";
import { Subjects } from "../subjects.ts";
import { StreamOpened } from "../transport/stream.ts";
import { defineRoute } from "./route.ts";

export const auditQueryRoute = defineRoute({
  id: "audit.query",
  method: "GET",
  path: "/api/v1/audit",
  aliases: ["/api/audit"],
  summary: "Query the audit log",
  description:
    "Filters combine with AND. Pagination by `page`/`per_page`, or `limit`/`offset` (PIC compatibility).",
  tags: ["audit"],
  auth: "principal",
  permission: Perm.AuditRead,
  subject: Subjects.auth.auditQuery,
  query: AuditQuery,
  reply: AuditPage,
  errors: [Errors.Forbidden, Errors.ValidationFailed],
});

export const auditExportRoute = defineRoute({
  id: "audit.export",
  method: "GET",
  path: "/api/v1/audit/export",
  aliases: ["/api/audit/export"],
  summary: "Export the audit log as CSV (streamed)",
  description: "Same filters as the query; streamed in bounded memory whatever the size.",
  tags: ["audit"],
  auth: "principal",
  permission: Perm.AuditRead,
  subject: Subjects.auth.auditExport,
  query: AuditExportQuery,
  reply: StreamOpened,
  replyType: "stream",
  timeoutMs: 30_000,
  errors: [Errors.Forbidden, Errors.ValidationFailed],
});

export const auditVerifyRoute = defineRoute({
  id: "audit.verify",
  method: "GET",
  path: "/api/v1/audit/verify",
  aliases: ["/api/audit/verify"],
  summary: "Re-walk the hash chain and the signed checkpoints",
  description:
    "Reports the first broken row: a changed byte, a deleted row, swapped rows or a forged checkpoint.",
  tags: ["audit"],
  auth: "principal",
  permission: Perm.AuditRead,
  subject: Subjects.auth.auditVerify,
  reply: AuditVerifyReply,
  timeoutMs: 300_000,
  errors: [Errors.Forbidden],
});

export const auditRoutes = [auditQueryRoute, auditExportRoute, auditVerifyRoute] as const;
