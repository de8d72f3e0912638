/**
 * Where HAProxy cluster data lives in NATS: desired state (KV, one key per cluster; the
 * KV revision is the document revision), node status (KV), snapshots (a JetStream stream,
 * one subject per cluster), and the request subjects of the agents.
 */
import { subjectToken } from "../../names.ts";

export const HaproxyStores = {
  /** KV bucket of desired state: key = cluster name. */
  stateBucket: "ep_haproxy_state",
  /** KV bucket of node status: key = `<cluster>.<node>` with '.' in names mapped to '='. */
  nodesBucket: "ep_haproxy_nodes",
  /** Stream keeping every committed revision. */
  snapshotStream: "EP_HAPROXY_SNAPSHOTS",
  snapshotSubjects: ["ep.v1.snap.haproxy.>"],
} as const;

/** KV-key token of a validated name ('.' is the key hierarchy separator, so it becomes '='). */
export const kvToken = (name: string) => subjectToken(name).replaceAll("~", "=");

export const HaproxySubjects = {
  /** Cluster-scoped requests, served by any agent of the cluster (queue group). */
  cluster: (cluster: string, rest: string) => `ep.v1.haproxy.${subjectToken(cluster)}.${rest}`,
  /** Node-specific requests, served by that node's agent. */
  node: (cluster: string, node: string, rest: string) =>
    `ep.v1.haproxy.${subjectToken(cluster)}.node.${subjectToken(node)}.${rest}`,
  /** A commit's candidate document, published while it is checked (core NATS, agents only). */
  candidate: (cluster: string) => `ep.v1.prep.haproxy.${subjectToken(cluster)}`,
  /** Snapshot subject of a cluster. */
  snapshot: (cluster: string) => `ep.v1.snap.haproxy.${subjectToken(cluster)}`,
  /** Apply events (also stored in EVENTS). */
  applyEvent: (cluster: string, result: "applied" | "failed") =>
    `ep.v1.evt.haproxy.${subjectToken(cluster)}.${result}`,
} as const;
