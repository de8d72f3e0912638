/**
 * Live HAProxy logs. Every agent listens on a loopback UDP syslog socket, haproxy logs to
 * it (`log 127.0.0.1:<port> local0 info` + `log global`), the agent parses each line
 * (HAProxy's default HTTP and TCP log formats; anything else is kept as `message`) and
 * publishes it, plain pub/sub (never persisted), on
 * `ep.v1.logs.haproxy.<cluster>.<node>`. The gateway streams them as Server-Sent Events
 * (`GET /api/v1/haproxy/clusters/{cluster}/logs`, PatchPanel `GET /api/logs`).
 */
import { z } from "zod";
import { nameSchema, subjectToken } from "../../names.ts";
import { identSchema } from "./primitives.ts";

export const HaproxyLogSubjects = {
  /** One node's parsed log lines. */
  node: (cluster: string, node: string) =>
    `ep.v1.logs.haproxy.${subjectToken(cluster)}.${subjectToken(node)}`,
  /** Every node of a cluster. */
  cluster: (cluster: string) => `ep.v1.logs.haproxy.${subjectToken(cluster)}.*`,
} as const;

export const HaproxyLogEntry = z
  .object({
    ts: z.number().int().describe("When the agent received the line (Unix ms)."),
    cluster: z.string().describe("Cluster."),
    node: z.string().describe("Node whose haproxy logged it."),
    kind: z.enum(["http", "tcp", "other"]).describe("Which format the line was parsed as."),
    severity: z.number().int().min(0).max(7).describe("Syslog severity (6 = info)."),
    pid: z.number().int().nullable().describe("haproxy worker PID."),
    client: z.string().nullable().describe("Client address."),
    client_port: z.number().int().nullable().describe("Client port."),
    accept_date: z.string().nullable().describe("haproxy's accept date (`[%tr]`), as printed."),
    frontend: z.string().nullable().describe("Frontend (`~` suffix = TLS stripped into `tls`)."),
    tls: z.boolean().describe("The connection was TLS (frontend printed with `~`)."),
    backend: z.string().nullable().describe("Backend."),
    server: z.string().nullable().describe("Server (`<NOSRV>` when none)."),
    status: z.number().int().nullable().describe("HTTP status (http lines)."),
    bytes: z.number().int().nullable().describe("Bytes sent to the client."),
    time_total_ms: z.number().int().nullable().describe("`Ta` (http) or `Tt` (tcp): total time in ms."),
    termination: z.string().nullable().describe("Termination state (`----` = normal)."),
    method: z.string().nullable().describe("HTTP method."),
    path: z.string().nullable().describe("Request URI."),
    message: z.string().describe("The log message as haproxy sent it (after the syslog header)."),
  })
  .describe("One parsed haproxy log line.")
  .meta({ id: "HaproxyLogEntry" });
export type HaproxyLogEntry = z.infer<typeof HaproxyLogEntry>;

export const LogsParams = z.object({ cluster: nameSchema("cluster") });
export const LogsQuery = z.object({
  node: nameSchema("node").optional().describe("Only lines of this node."),
  frontend: identSchema("frontend name").optional().describe("Only lines of this frontend."),
  backend: identSchema("backend name").optional().describe("Only lines of this backend."),
  status: z
    .string()
    .regex(/^[1-5]xx(,[1-5]xx)*$/, "status classes like `5xx` or `4xx,5xx`")
    .optional()
    .describe("Only HTTP lines with these status classes (`4xx,5xx`)."),
});
