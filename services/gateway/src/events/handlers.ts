/**
 * The stored-event REST API (`GET /api/v1/events`, `GET /api/v1/events/{seq}`), answered by
 * the gateway from JetStream: the gateway already consumes the EVENTS stream for the
 * WebSocket, reading it needs no database and no domain logic, and access control is the
 * same `eventVisibleTo` the WebSocket applies. An event the caller may not see is a 404.
 */
import { Errors, EventListQuery, EventSeqParams, type Principal } from "@edgeplane/proto";
import type { FastifyRequest } from "fastify";
import type { LocalHandler } from "../routes/table.ts";
import { type EventFeed, eventMatcher, type FeedEvent } from "../ws/feed.ts";

/** `{seq, event}` without re-serialising: the stored JSON is spliced in as is. */
function stored(e: FeedEvent): string {
  return `{"seq":${e.seq},"event":${e.raw}}`;
}

export function eventHandlers(feed: EventFeed): Record<"events.list" | "events.get", LocalHandler> {
  return {
    "events.list": async (req: FastifyRequest, reply) => {
      const principal = req.principal as Principal;
      const q = EventListQuery.parse(req.query ?? {});
      const filter = {
        principal,
        ...(q.topics ? { topics: q.topics } : {}),
        ...(q.resource_kind ? { resourceKind: q.resource_kind } : {}),
        ...(q.resource ? { resource: q.resource } : {}),
      };
      const r = await feed.list(filter, {
        order: q.order,
        limit: q.limit,
        ...(q.after !== undefined ? { after: q.after } : {}),
        ...(q.before !== undefined ? { before: q.before } : {}),
      });
      const body = `{"items":[${r.items.map(stored).join(",")}],"next":${r.next},"first_seq":${r.firstSeq},"last_seq":${r.lastSeq}}`;
      return reply.type("application/json; charset=utf-8").send(body);
    },
    "events.get": async (req: FastifyRequest, reply) => {
      const principal = req.principal as Principal;
      const { seq } = EventSeqParams.parse(req.params ?? {});
      const e = await feed.get(seq);
      if (!e || !eventMatcher({ principal })(e)) throw Errors.NotFound.create();
      return reply.type("application/json; charset=utf-8").send(stored(e));
    },
  };
}
