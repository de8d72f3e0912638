/**
 * A running gateway: NATS connection, discovery registration (so `/api/v1/health` lists
 * gateways too), HTTP listener, and graceful shutdown — stop accepting, let in-flight
 * requests finish (their NATS replies included), then drain NATS.
 */
import { hostname } from "node:os";
import {
  connectNats,
  createLogger,
  createService,
  routes as defaultRoutes,
  ensureStreams,
  type RouteSpec,
  ServiceName,
} from "@edgeplane/proto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { buildGateway, type Gateway } from "./app.ts";
import type { GatewayConfig } from "./config.ts";

export const VERSION = "0.1.0";

export interface RunningGateway extends Gateway {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startGateway(
  config: GatewayConfig,
  routes: readonly RouteSpec[] = defaultRoutes,
): Promise<RunningGateway> {
  const log = createLogger("gateway", config.EP_LOG_LEVEL);
  const instance = config.EP_SERVICE_INSTANCE ?? `${hostname()}-${process.pid}`;
  const nc = await connectNats({
    servers: config.EP_NATS_URL,
    name: `gateway/${instance}`,
    credsFile: config.EP_NATS_CREDS,
  });
  await ensureStreams(await jetstreamManager(nc), config.EP_STREAM_REPLICAS);
  const js = jetstream(nc);
  const discovery = await createService(nc, {
    name: ServiceName.Gateway,
    version: VERSION,
    description: "HTTP gateway",
    metadata: { instance, node: config.EP_NODE_NAME, host: hostname(), pid: String(process.pid) },
    log,
  });
  const gw = await buildGateway({ config, nc, js, routes, log, version: VERSION });
  await gw.app.listen({ port: config.EP_HTTP_PORT, host: config.EP_HTTP_HOST });
  const addr = gw.app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.EP_HTTP_PORT;
  const url = `http://${config.EP_HTTP_HOST.includes(":") ? `[${config.EP_HTTP_HOST}]` : config.EP_HTTP_HOST}:${port}`;
  log.info({ url, instance }, "gateway listening");

  let stopping: Promise<void> | undefined;
  return {
    ...gw,
    url,
    port,
    stop() {
      stopping ??= (async () => {
        await discovery.stop();
        // close() stops accepting and waits for in-flight requests (and their NATS calls).
        await gw.app.close();
        await nc.drain().catch(() => undefined);
      })();
      return stopping;
    },
  };
}
