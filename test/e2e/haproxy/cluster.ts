/**
 * A real HAProxy cluster for end-to-end tests: nats-server, PostgreSQL + auth (for an API
 * key), the gateway, and N haproxy-agents of cluster `default`, each managing its own
 * haproxy (own directory, own port offset so all nodes fit on 127.0.0.1), plus tiny Node
 * HTTP backends that answer with their name. Everything is disposed in `close()`.
 */
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import {
  freePort,
  killStrays,
  type NatsServer,
  type ServiceProcess,
  spawnService,
  startControlPlane,
} from "../../harness/mod.ts";

export interface Agent {
  node: string;
  dir: string;
  offset: number;
  env: Record<string, string>;
  proc: ServiceProcess;
}

export interface Cluster {
  nats: NatsServer;
  gateway: ServiceProcess;
  key: string;
  agents: Agent[];
  /** The frontend port of the documents (node i listens on port + agents[i].offset). */
  port: number;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  startAgent(a: Agent): Promise<void>;
  close(): Promise<void>;
}

/** A tiny HTTP backend answering `<name> <path>`. */
export async function backend(name: string): Promise<{ port: number; server: Server; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    res.setHeader("content-type", "text/plain");
    res.end(`${name} ${req.url}`);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  return { port: typeof addr === "object" && addr ? addr.port : 0, server, hits: () => hits };
}

async function portPair(n: number): Promise<{ port: number; offsets: number[] }> {
  for (;;) {
    const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
    const port = Math.min(...ports);
    if (new Set(ports).size === n) return { port, offsets: ports.map((p) => p - port).sort((a, b) => a - b) };
  }
}

export async function startCluster(
  opts: {
    nodes: number;
    agentEnv?: Record<string, string>;
    gatewayEnv?: Record<string, string>;
    natsArgs?: string[];
  } = { nodes: 2 },
): Promise<Cluster> {
  const cp = await startControlPlane({
    tmpPrefix: "ep-hacluster-",
    ...(opts.natsArgs ? { natsArgs: opts.natsArgs } : {}),
  });
  try {
    const { nats } = cp;
    await cp.spawn("auth", cp.authEnv);
    const gateway = await cp.spawn("gateway", { EP_NATS_URL: nats.url, ...opts.gatewayEnv });
    const key = (await cp.completeSetup(gateway.url as string)).apiKey;

    const { port, offsets } = await portPair(opts.nodes);
    const agents: Agent[] = offsets.map((offset, i) => {
      const node = `node-${String.fromCharCode(97 + i)}`;
      return {
        node,
        dir: join(cp.dir, node),
        offset,
        env: {
          EP_NATS_URL: nats.url,
          EP_HAPROXY_CLUSTER: "default",
          EP_HAPROXY_NODE: node,
          EP_HAPROXY_DIR: join(cp.dir, node),
          EP_HAPROXY_PORT_OFFSET: String(offset),
          EP_HAPROXY_NOREUSEPORT: "true",
          EP_HAPROXY_HEARTBEAT_MS: "1000",
          ...opts.agentEnv,
        },
        proc: undefined as unknown as ServiceProcess,
      };
    });
    const startAgent = async (a: Agent) => {
      a.proc = await spawnService("haproxy-agent", a.env, { instance: `agent-${a.node}` });
    };
    for (const a of agents) {
      await startAgent(a);
      cp.defer(async () => {
        await a.proc.stop();
        // The node's haproxy (master and workers) runs detached: it outlives an agent that
        // was SIGKILLed or keeps it on exit (EP_HAPROXY_ON_EXIT=keep). It goes with the test.
        await killStrays(a.dir);
      });
    }
    const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      fetch(`${gateway.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body !== undefined && typeof body !== "string" ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
      });
    return { nats, gateway, key, agents, port, api, startAgent, close: cp.dispose };
  } catch (err) {
    await cp.dispose();
    throw err;
  }
}
