/**
 * The gateway's event stream: builds the EVENTS feed and the WebSocket hub, attaches the
 * hub to the HTTP server's upgrades, and provides the local handlers of the event routes
 * (`events.ws`, `events.ws_stats`, `events.list`, `events.get`). Closed from Fastify's
 * `preClose` hook, before the HTTP server waits for its connections.
 *
 * Owns: WebSocket protocol, caps, fan-out. Must not: hold domain logic, or buffer
 * without bound for a client (slow consumers are closed).
 */
import { Errors, type Logger } from "@edgeplane/proto";
import { type JetStreamClient, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { FastifyInstance } from "fastify";
import { eventHandlers } from "../events/handlers.ts";
import type { Authenticator } from "../plugins/auth.ts";
import type { LocalHandler } from "../routes/table.ts";
import type { WsConfig } from "./config.ts";
import { EventFeed } from "./feed.ts";
import { Hub } from "./hub.ts";

export type { WsConfig } from "./config.ts";
export { WsEnv } from "./config.ts";

export interface EventStream {
  hub: Hub;
  feed: EventFeed;
  /** Local handlers for the route table, by route id. */
  handlers: Record<string, LocalHandler>;
}

export async function createEventStream(
  app: FastifyInstance,
  deps: {
    config: WsConfig;
    nc: NatsConnection;
    js: JetStreamClient;
    auth: Authenticator;
    log: Logger;
    instance: string;
  },
): Promise<EventStream> {
  const feed = await EventFeed.start(
    deps.js,
    await jetstreamManager(deps.nc),
    deps.log,
    deps.config.EP_WS_RING_SIZE,
    deps.config.EP_WS_RING_BYTES,
  );
  const hub = new Hub({ ...deps, feed });
  hub.attach(app.server);
  app.addHook("preClose", async () => {
    await hub.close();
    await feed.stop();
  });
  return {
    hub,
    feed,
    handlers: {
      ...eventHandlers(feed),
      "events.ws": async () => {
        throw Errors.UpgradeRequired.create();
      },
      "events.ws_stats": async () => hub.stats(),
    },
  };
}
