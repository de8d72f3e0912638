/**
 * `runService`: the common life of a service process. Parse config, connect to NATS,
 * ensure the streams, register endpoints, serve /healthz and /metrics when asked, and on
 * SIGTERM/SIGINT drain (stop taking requests, finish in-flight ones, flush) and exit 0.
 */
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { z } from "zod";
import { createLogger, type Logger } from "../log.ts";
import { createService, type EpService } from "../transport/serve.ts";
import { ensureStreams } from "../transport/streams.ts";
import { type BaseEnv, parseEnv } from "./config.ts";
import { connectNats } from "./nats.ts";

export interface ServiceRuntime<C> {
  config: Readonly<C>;
  nc: NatsConnection;
  js: JetStreamClient;
  svc: EpService;
  log: Logger;
  metrics: Registry;
  /** Register work to run on shutdown, after requests have drained (LIFO). */
  onStop(fn: () => Promise<void> | void): void;
}

export interface RunServiceOptions<S extends z.ZodObject> {
  name: string;
  version: string;
  description: string;
  env: S;
  setup(rt: ServiceRuntime<z.infer<S> & BaseEnv>): Promise<void>;
  /** Extra /healthz check (e.g. database reachable). */
  healthy?: () => Promise<boolean>;
}

export interface RunningService {
  rt: ServiceRuntime<unknown>;
  stop(): Promise<void>;
}

/** Start a service. `envSource` defaults to `process.env`; `signals` false for in-process tests. */
export async function startService<S extends z.ZodObject>(
  opts: RunServiceOptions<S>,
  envSource: NodeJS.ProcessEnv = process.env,
  signals = true,
): Promise<RunningService> {
  const config = parseEnv(opts.env, envSource) as z.infer<S> & BaseEnv;
  const log = createLogger(opts.name, config.EP_LOG_LEVEL);
  const instance = config.EP_SERVICE_INSTANCE ?? `${hostname()}-${process.pid}`;
  const nc = await connectNats({
    servers: config.EP_NATS_URL,
    name: `${opts.name}/${instance}`,
    credsFile: config.EP_NATS_CREDS,
  });
  await ensureStreams(await jetstreamManager(nc), config.EP_STREAM_REPLICAS);
  const js = jetstream(nc);
  const svc = await createService(nc, {
    name: opts.name,
    version: opts.version,
    description: opts.description,
    metadata: { instance, node: config.EP_NODE_NAME, host: hostname(), pid: String(process.pid) },
    log,
  });
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const stopFns: Array<() => Promise<void> | void> = [];
  const rt: ServiceRuntime<z.infer<S> & BaseEnv> = {
    config,
    nc,
    js,
    svc,
    log,
    metrics,
    onStop: (fn) => stopFns.push(fn),
  };
  await opts.setup(rt);

  let http: Server | undefined;
  if (config.EP_HEALTH_PORT > 0) {
    http = createServer(async (req, res) => {
      if (req.url === "/metrics") {
        res.setHeader("content-type", metrics.contentType);
        res.end(await metrics.metrics());
      } else if (req.url === "/healthz") {
        const ok = !nc.isClosed() && (opts.healthy ? await opts.healthy().catch(() => false) : true);
        res.statusCode = ok ? 200 : 503;
        res.end(JSON.stringify({ status: ok ? "healthy" : "unhealthy" }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => http?.listen(config.EP_HEALTH_PORT, config.EP_HEALTH_HOST, r));
  }
  log.info({ instance, id: svc.id }, `${opts.name} started`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info("draining");
      await svc.stop();
      for (const fn of stopFns.reverse()) await fn();
      http?.close();
      await nc.drain().catch(() => undefined);
      log.info("stopped");
    })();
    return stopping;
  };
  if (signals) {
    const onSignal = () => {
      stop().then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
  return { rt: rt as ServiceRuntime<unknown>, stop };
}

/** Entry-point helper: start, and exit 1 with a readable message on failure. */
export function runService<S extends z.ZodObject>(opts: RunServiceOptions<S>): void {
  startService(opts).catch((err: unknown) => {
    process.stderr.write(`${opts.name}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
