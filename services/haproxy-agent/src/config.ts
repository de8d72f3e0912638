/** The haproxy-agent's environment: one zod schema, parsed once (see `runService`). */
import { BaseEnv, nameSchema } from "@edgeplane/proto";
import { z } from "zod";

const bool = (def: "true" | "false") =>
  z
    .enum(["true", "false", "1", "0"])
    .default(def)
    .transform((v) => v === "true" || v === "1");

export const HaproxyAgentEnv = BaseEnv.extend({
  EP_HAPROXY_CLUSTER: nameSchema("cluster").default("default").describe("Cluster this node belongs to."),
  EP_HAPROXY_NODE: nameSchema("node")
    .optional()
    .describe("Node name inside the cluster (default: EP_NODE_NAME, lower-cased and sanitised)."),
  EP_DATA_DIR: z
    .string()
    .default(".edgeplane")
    .describe("Data directory; files go to <dir>/haproxy/<cluster>/."),
  EP_HAPROXY_DIR: z
    .string()
    .regex(/^\/[A-Za-z0-9_./-]+$/, "an absolute path of letters, digits, '_', '.', '/', '-'")
    .optional()
    .describe("Directory of this node's haproxy files (default <EP_DATA_DIR>/haproxy/<cluster>)."),
  EP_HAPROXY_BIN: z.string().default("haproxy").describe("haproxy executable (PATH lookup, then /usr/sbin)."),
  EP_HAPROXY_CONTROL: z
    .enum(["auto", "child", "systemd", "s6", "pid", "none"])
    .default("auto")
    .describe(
      "How to start/stop haproxy: auto-detect, a managed child, systemd, s6, an existing master (pid), none.",
    ),
  EP_HAPROXY_MASTER_SOCKET: z.string().optional().describe("Master CLI socket (default <dir>/master.sock)."),
  EP_HAPROXY_PID_FILE: z
    .string()
    .regex(/^\/[A-Za-z0-9_./-]+$/, "an absolute path of letters, digits, '_', '.', '/', '-'")
    .optional()
    .describe(
      "Pidfile of the master (default <dir>/haproxy.pid). With EP_HAPROXY_CONTROL=pid: the pidfile of an existing master the agent drives by signals.",
    ),
  EP_HAPROXY_CONFIG_FILE: z
    .string()
    .regex(/^\/[A-Za-z0-9_./-]+$/, "an absolute path of letters, digits, '_', '.', '/', '-'")
    .optional()
    .describe(
      "The file haproxy reads (default <dir>/haproxy.cfg); for an existing master (pid), the one its `-f` names.",
    ),
  EP_HAPROXY_CERT_DIR: z
    .string()
    .regex(/^\/[A-Za-z0-9_./-]+$/)
    .optional()
    .describe("Managed certificates: <dir>/<ref>.pem, ca/<ref>.pem, crl/<ref>.pem (default <dir>/certs)."),
  EP_HAPROXY_PORT_OFFSET: z.coerce
    .number()
    .int()
    .min(0)
    .max(60000)
    .default(0)
    .describe("Added to every bind port on this node (several nodes of one cluster on one host)."),
  EP_HAPROXY_NOREUSEPORT: bool("false").describe(
    "Render `noreuseport`: a port collision fails instead of sharing.",
  ),
  EP_HAPROXY_ON_EXIT: z
    .enum(["stop", "keep"])
    .default("stop")
    .describe(
      "What happens to a managed haproxy when the agent stops: stop it, or keep it serving (adopted at the next start).",
    ),
  EP_HAPROXY_APPLY_WAIT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(120_000)
    .default(15_000)
    .describe("How long a PUT waits for the nodes' results."),
  EP_HAPROXY_RELOAD_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(500)
    .max(600_000)
    .default(30_000)
    .describe("How long a reload may take to be confirmed."),
  EP_HAPROXY_SNAPSHOT_KEEP: z.coerce
    .number()
    .int()
    .min(2)
    .max(100_000)
    .default(200)
    .describe("Revisions kept per cluster."),
  EP_HAPROXY_SNAPSHOT_MAX_AGE_DAYS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(90)
    .describe("Revisions older than this are dropped."),
  EP_HAPROXY_HEARTBEAT_MS: z.coerce
    .number()
    .int()
    .min(200)
    .max(600_000)
    .default(10_000)
    .describe("Node status heartbeat (and supervision) interval."),
  // ---- issue 7: stats feed, live logs
  EP_HAPROXY_CERT_CHECK_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 86_400_000)
    .default(12 * 3_600_000)
    .describe(
      "How often the cluster's certificates are checked for expiry (`haproxy.cert.expiring` events, by the first online node); 0 = off.",
    ),
  EP_HAPROXY_CERT_EXPIRING_DAYS: z.coerce
    .number()
    .int()
    .min(1)
    .max(365)
    .default(30)
    .describe("A certificate expiring within this many days is reported as expiring."),
  EP_HAPROXY_ACME_DIRECTORY: z
    .url({ protocol: /^https$/ })
    .optional()
    .describe(
      "ACME directory URL (e.g. Let's Encrypt's); unset = no ACME. HTTP-01 is answered by every HTTP frontend with a clear-text bind. Extra CAs for the directory's TLS: NODE_EXTRA_CA_CERTS.",
    ),
  EP_HAPROXY_ACME_EMAIL: z.email().optional().describe("ACME account contact."),
  EP_HAPROXY_SAMPLE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(2000)
    .describe("Stats sample period (`show info` + `show stat` published for the stats service); 0 = off."),
  EP_HAPROXY_LOGS: bool("true").describe("Listen for haproxy's logs (loopback UDP) and publish them parsed."),
  EP_HAPROXY_LOG_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(0)
    .describe("UDP port of the log listener on 127.0.0.1 (0 = pick one, remembered in <dir>/log-port)."),
});
export type HaproxyAgentEnv = z.infer<typeof HaproxyAgentEnv>;

/** A node name from a host name: lower case, invalid characters replaced. */
export function nodeNameFrom(host: string): string {
  const n = host
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 63);
  return n.length > 0 ? n : "node";
}
