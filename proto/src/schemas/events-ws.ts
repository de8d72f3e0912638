/**
 * The WebSocket protocol of `GET /api/v1/ws` (alias `/api/ws`), and the REST event API.
 *
 * Client → server (JSON text frames):
 *   {"type":"auth","token":"<api key or jwt>"}            first frame, within 5 s (unless the
 *                                                          upgrade carried a credential)
 *   {"type":"subscribe","id":"1","topics":["haproxy.*"],"since":41}
 *   {"type":"unsubscribe","id":"2","topics":["haproxy.*"]}
 *   {"type":"ping","id":"3"}
 * Server → client:
 *   {"type":"event","seq":42,"event":{…DomainEvent…}}
 *   {"type":"ack","id":"1","op":"subscribe",…}            and op "auth" / "unsubscribe" / "replayed"
 *   {"type":"error","id":"1","code":"validation_failed","message":"…"}
 *   {"type":"pong","id":"3","time":"…"}
 *
 * `since` is the last sequence the client has seen: the server replays stored events with
 * a greater sequence that match the new topics, then continues live, with neither a gap
 * nor a duplicate at the seam. Close codes: 1008 (authentication failed or timed out,
 * credential revoked), 1013 (a cap was exceeded, or slow consumer), 1001 (gateway stopping).
 */
import { z } from "zod";
import { DomainEvent } from "./events.ts";
import { Topic } from "./events-access.ts";

const FrameId = z.string().max(64).optional().describe("Client-chosen id echoed in the ack or error.");
const Topics = z.array(Topic).min(1).max(200).describe("Topic patterns (see `Topic`).");

export const WsAuthFrame = z
  .object({
    type: z.literal("auth").describe("Authenticate the connection."),
    token: z.string().min(1).max(4096).describe("An API key or an access token (JWT)."),
    id: FrameId,
  })
  .describe("First frame: the credential.");
export const WsSubscribeFrame = z
  .object({
    type: z.literal("subscribe").describe("Add topics."),
    id: FrameId,
    topics: Topics,
    since: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe("Last stream sequence seen: replay later stored events of these topics first."),
  })
  .describe("Subscribe to topics, optionally replaying from a sequence.");
export const WsUnsubscribeFrame = z
  .object({
    type: z.literal("unsubscribe").describe("Remove topics."),
    id: FrameId,
    topics: Topics,
  })
  .describe("Unsubscribe from topics.");
export const WsPingFrame = z
  .object({ type: z.literal("ping").describe("Application-level ping."), id: FrameId })
  .describe("Ping; answered with `pong`.");

export const WsClientFrame = z
  .discriminatedUnion("type", [WsAuthFrame, WsSubscribeFrame, WsUnsubscribeFrame, WsPingFrame])
  .describe("A frame sent by the client.");
export type WsClientFrame = z.infer<typeof WsClientFrame>;

export const WsEventFrame = z
  .object({
    type: z.literal("event").describe("An event."),
    seq: z.number().int().positive().describe("Stream sequence of the event (use as `since` to resume)."),
    event: DomainEvent,
  })
  .describe("One event the connection subscribed to and may see.");
export const WsAckFrame = z
  .object({
    type: z.literal("ack").describe("Acknowledgement."),
    id: FrameId,
    op: z.enum(["auth", "subscribe", "unsubscribe", "replayed"]).describe("What is acknowledged."),
    topics: z.array(z.string()).optional().describe("The connection's topics after the operation."),
    user: z.string().optional().describe("(auth) The authenticated username."),
    live_from: z
      .number()
      .int()
      .optional()
      .describe("(subscribe) First sequence delivered live; a replay covers (since, live_from)."),
    replay_from: z
      .number()
      .int()
      .optional()
      .describe("(subscribe) First stored sequence available; greater than since+1 if older events expired."),
    count: z.number().int().optional().describe("(replayed) Events replayed."),
  })
  .describe("Acknowledges a client frame; `replayed` marks the end of a replay.");
export const WsErrorFrame = z
  .object({
    type: z.literal("error").describe("A frame was refused."),
    id: FrameId,
    code: z.string().describe("Stable error code."),
    message: z.string().describe("What went wrong."),
    details: z.unknown().optional().describe("Field issues, for `validation_failed`."),
  })
  .describe("A refused frame; the connection stays open.");
export const WsPongFrame = z
  .object({
    type: z.literal("pong").describe("Answer to `ping`."),
    id: FrameId,
    time: z.string().describe("Server time (ISO 8601)."),
  })
  .describe("Answer to a ping.");
export const WsServerFrame = z
  .discriminatedUnion("type", [WsEventFrame, WsAckFrame, WsErrorFrame, WsPongFrame])
  .describe("A frame sent by the server.");
export type WsServerFrame = z.infer<typeof WsServerFrame>;

/** Close codes the server uses. */
export const WsClose = {
  Normal: 1000,
  GoingAway: 1001,
  PolicyViolation: 1008,
  TooBig: 1009,
  TryAgainLater: 1013,
} as const;

// ---------------------------------------------------------------- REST

export const StoredEvent = z
  .object({
    seq: z.number().int().positive().describe("Stream sequence."),
    event: DomainEvent,
  })
  .describe("A stored event with its sequence.");

const CsvTopics = z
  .string()
  .max(2048)
  .transform((s) =>
    s
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean),
  )
  .pipe(z.array(Topic).max(50))
  .describe("Comma-separated topic patterns (`haproxy.*,auth.key.*`).");

export const EventListQuery = z
  .object({
    topics: CsvTopics.optional(),
    resource_kind: z
      .enum(["cluster", "interface", "controller", "api_key", "audit_log"])
      .optional()
      .describe("Only events about this kind of resource."),
    resource: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "a resource name: a-z, 0-9, '.', '_', '-'")
      .optional()
      .describe("Only events about this resource (needs `resource_kind`)."),
    after: z.coerce.number().int().nonnegative().optional().describe("Only events with a greater sequence."),
    before: z.coerce.number().int().positive().optional().describe("Only events with a smaller sequence."),
    limit: z.coerce.number().int().min(1).max(200).default(50).describe("Page size (1–200)."),
    order: z
      .enum(["asc", "desc"])
      .default("desc")
      .describe(
        "`desc` (default): newest first, continue with `before`; `asc`: oldest first, continue with `after`.",
      ),
  })
  .refine((q) => !q.resource || q.resource_kind, {
    message: "resource needs resource_kind",
    path: ["resource"],
  })
  .describe("Filters and cursor of the event list.");

export const EventList = z
  .object({
    items: z.array(StoredEvent).describe("Matching events visible to the caller."),
    next: z
      .number()
      .int()
      .nullable()
      .describe("Cursor of the next page: pass as `before` (desc) or `after` (asc); null when exhausted."),
    first_seq: z.number().int().describe("Oldest sequence still stored."),
    last_seq: z.number().int().describe("Newest sequence stored."),
  })
  .describe("A page of stored events (cursor pagination by sequence).");

export const EventSeqParams = z
  .object({ seq: z.coerce.number().int().positive().describe("Stream sequence of the event.") })
  .describe("Event path parameters.");

export const WsStats = z
  .object({
    instance: z.string().describe("Gateway instance answering."),
    connections: z.number().int().describe("Open WebSocket connections on this instance."),
    authenticated: z.number().int().describe("Of which authenticated."),
    principals: z.number().int().describe("Distinct users connected."),
    subscriptions: z.number().int().describe("Topics subscribed across connections."),
    live_seq: z.number().int().describe("Last event sequence this instance has received."),
    fanout: z
      .object({
        batches: z
          .number()
          .int()
          .describe("Fan-outs since start (one socket write per interested connection each)."),
        events: z.number().int().describe("Events fanned out since start."),
        avg_ms: z.number().describe("Mean duration of a fan-out (all connections), ms."),
        max_ms: z.number().describe("Longest fan-out, ms."),
        slow_consumers_closed: z.number().int().describe("Connections closed for not reading (1013)."),
      })
      .describe("Fan-out figures of this instance."),
    limits: z
      .object({
        connections: z.number().int().describe("Connections per instance."),
        per_principal: z.number().int().describe("Connections per user."),
        subscriptions: z.number().int().describe("Topics per connection."),
      })
      .describe("Caps in force."),
  })
  .describe("WebSocket statistics of one gateway instance.");
