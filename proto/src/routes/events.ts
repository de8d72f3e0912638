/**
 * The event API: the WebSocket stream and the stored-event list. All answered by the
 * gateway itself (no subject): it already consumes the EVENTS stream for the WebSocket,
 * so it reads stored events straight from JetStream too.
 */
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import { ErrorEnvelope } from "../schemas/common.ts";
import { EventList, EventListQuery, EventSeqParams, StoredEvent, WsStats } from "../schemas/events-ws.ts";
import { defineRoute } from "./route.ts";

export const eventsWsRoute = defineRoute({
  id: "events.ws",
  method: "GET",
  path: "/api/v1/ws",
  aliases: ["/api/ws"],
  summary: "Real-time event stream (WebSocket)",
  description: [
    'Upgrade to a WebSocket. Authenticate with a first frame `{"type":"auth","token":"<api key or jwt>"}`',
    "within 5 s (recommended), or with the session cookie or an API key header on the upgrade request.",
    "Then `subscribe {topics, since?}`, `unsubscribe {topics}`, `ping`; the server sends `event`, `ack`,",
    "`error`, `pong`. Topics: `haproxy.*`, `wireguard.peer.*`, `*` (everything the caller may see).",
    "Delivery is filtered by the caller's permissions and resource scope. Caps: 25 connections per user,",
    "5,000 per gateway, 200 topics per connection; exceeding one, or not reading fast enough, closes with",
    "1013. A plain GET without `Upgrade: websocket` answers 426.",
  ].join(" "),
  tags: ["events"],
  auth: "public",
  rateClass: "none",
  reply: ErrorEnvelope,
  status: 101,
  errors: [Errors.UpgradeRequired],
});

export const eventsWsStatsRoute = defineRoute({
  id: "events.ws_stats",
  method: "GET",
  path: "/api/v1/ws/stats",
  summary: "WebSocket connection counts of this gateway instance",
  tags: ["events"],
  auth: "principal",
  permission: Perm.MeshRead,
  reply: WsStats,
  errors: [Errors.Unauthenticated, Errors.Forbidden],
});

export const eventsListRoute = defineRoute({
  id: "events.list",
  method: "GET",
  path: "/api/v1/events",
  summary: "Recent events",
  description:
    "Stored events (7 days / 1 GiB) visible to the caller, newest first, filtered by topic patterns and resource; cursor pagination by sequence.",
  tags: ["events"],
  auth: "principal",
  permission: Perm.EventsRead,
  query: EventListQuery,
  reply: EventList,
  errors: [Errors.Unauthenticated, Errors.Forbidden, Errors.ValidationFailed],
});

export const eventsGetRoute = defineRoute({
  id: "events.get",
  method: "GET",
  path: "/api/v1/events/{seq}",
  summary: "One stored event by sequence",
  description: "404 when the event does not exist, has expired, or is not visible to the caller.",
  tags: ["events"],
  auth: "principal",
  permission: Perm.EventsRead,
  params: EventSeqParams,
  reply: StoredEvent,
  errors: [Errors.Unauthenticated, Errors.Forbidden, Errors.NotFound],
});

/** Gateway-local event routes (no subject). */
export const eventRoutes = [eventsWsRoute, eventsWsStatsRoute, eventsListRoute, eventsGetRoute] as const;
