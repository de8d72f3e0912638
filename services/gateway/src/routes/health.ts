/**
 * Handlers of the gateway-local routes: liveness, readiness, and the mesh view gathered
 * with NATS service discovery (`$SRV.INFO` / `$SRV.STATS`).
 */

import { type MeshHealth, REQUIRED_SERVICES, type Readiness, svcmConnection } from "@edgeplane/proto";
import { type ServiceInfo, type ServiceStats, Svcm } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import type { z } from "zod";

async function collect<T>(it: Promise<AsyncIterable<T>>): Promise<T[]> {
  const out: T[] = [];
  try {
    for await (const x of await it) out.push(x);
  } catch {
    /* no responders / timeout: an empty mesh */
  }
  return out;
}

export function createHealth(nc: NatsConnection) {
  const client = () => new Svcm(svcmConnection(nc)).client({ maxWait: 400, strategy: "stall", stall: 150 });
  let readyCache: { at: number; value: z.infer<typeof Readiness> } | undefined;

  return {
    liveness: () => ({ status: "healthy" as const }),

    async readiness(): Promise<z.infer<typeof Readiness>> {
      if (readyCache && Date.now() - readyCache.at < 1000) return readyCache.value;
      const connected = !nc.isClosed() && !nc.isDraining();
      const services: Record<string, boolean> = {};
      const pings = connected ? await collect(client().ping()) : [];
      for (const name of REQUIRED_SERVICES) services[name] = pings.some((p) => p.name === name);
      const ok = connected && Object.values(services).every(Boolean);
      const value = { status: ok ? ("ready" as const) : ("not_ready" as const), nats: connected, services };
      readyCache = { at: Date.now(), value };
      return value;
    },

    async mesh(): Promise<z.infer<typeof MeshHealth>> {
      const connected = !nc.isClosed();
      const c = client();
      const [infos, stats] = await Promise.all([
        collect<ServiceInfo>(c.info()),
        collect<ServiceStats>(c.stats()),
      ]);
      const statsById = new Map(stats.map((s) => [s.id, s]));
      const now = Date.now();
      const services = infos
        .map((i) => {
          const s = statsById.get(i.id);
          const started = s?.started ?? new Date(now).toISOString();
          return {
            name: i.name,
            id: i.id,
            version: i.version,
            started,
            uptime_s: Math.max(0, Math.round((now - Date.parse(started)) / 1000)),
            metadata: i.metadata ?? {},
            endpoints: (s?.endpoints ?? []).map((e) => {
              const d = (e.data ?? {}) as { requests?: number; errors?: number; total_ms?: number };
              const n = d.requests ?? e.num_requests;
              return {
                name: e.name,
                subject: e.subject,
                ...(e.queue_group ? { queue_group: e.queue_group } : {}),
                num_requests: n,
                num_errors: d.errors ?? e.num_errors,
                average_processing_time_ms: n > 0 && d.total_ms !== undefined ? d.total_ms / n : 0,
              };
            }),
          };
        })
        .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
      const degraded = REQUIRED_SERVICES.some((n) => !services.some((s) => s.name === n));
      const rtt = connected ? await nc.rtt().catch(() => undefined) : undefined;
      return {
        status: connected && !degraded ? "healthy" : "degraded",
        nats: {
          connected,
          ...(nc.getServer() ? { server: nc.getServer() } : {}),
          ...(rtt !== undefined ? { rtt_ms: Math.round(rtt * 1000) / 1000 } : {}),
        },
        services,
      };
    },
  };
}
export type Health = ReturnType<typeof createHealth>;
