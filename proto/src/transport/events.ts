/**
 * Publishing domain events: the one producer path every service uses.
 *
 *   await publishEvent(js, {
 *     type: "auth.key.created",
 *     resource: { kind: "api_key", name: key.id },
 *     data: { key_id: key.id, name: key.name, user_id: key.user_id, scopes, expires_at },
 *   }, ctx);   // ctx (a HandlerContext, or {principal, requestId}) fills actor and request_id
 *
 * The event is validated against the catalogue (a producer bug throws here, not in a
 * client), stored in the `EVENTS` stream under `ep.v1.evt.<domain>.<resource>.<type rest>`
 * with the event id as JetStream message id (a retried publish is stored once), and the
 * promise resolves with the stream sequence once JetStream has stored it.
 *
 * Events are notifications, not the record: a service publishes its event after its
 * mutation has committed (and after its audit event), and a failed publish should be
 * logged, not turned into a failed mutation.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { newId } from "../ids.ts";
import type { Principal } from "../schemas/common.ts";
import {
  DomainEvent,
  type EventActor,
  type EventType,
  eventActor,
  splitEventType,
} from "../schemas/events.ts";
import { Subjects } from "../subjects.ts";

/** NATS headers set on every stored event (routing without parsing the payload). */
export const EventHeader = {
  Type: "ep-event-type",
  ResourceKind: "ep-resource-kind",
  Resource: "ep-resource",
} as const;

type Distribute<U> = U extends DomainEvent
  ? Omit<U, "id" | "time" | "version" | "actor" | "request_id"> & {
      id?: string;
      time?: string;
      version?: U["version"];
      actor?: EventActor;
      request_id?: string | null;
    }
  : never;

/** What a producer passes: the catalogue event without the fields `publishEvent` fills. */
export type EventInput = Distribute<DomainEvent>;

/** Where the actor and request id come from (a `HandlerContext` fits). */
export interface EventContext {
  principal?: Principal | undefined;
  requestId?: string | undefined;
  /** Name of the component acting on its own (`haproxy-agent/node-1`), when there is no principal. */
  system?: string;
}

export interface PublishedEvent {
  /** Stream sequence assigned by JetStream (the `seq` clients see and replay from). */
  seq: number;
  /** The complete event as stored. */
  event: DomainEvent;
  /** True when JetStream had already stored an event with this id (retried publish). */
  duplicate: boolean;
}

/** Complete an event input (id, time, version, actor, request id) and validate it. */
export function buildEvent(input: EventInput, ctx: EventContext = {}): DomainEvent {
  return DomainEvent.parse({
    ...input,
    id: input.id ?? newId("evt"),
    time: input.time ?? new Date().toISOString(),
    version: input.version ?? 1,
    actor: input.actor ?? eventActor(ctx.principal, ctx.system ?? null),
    request_id: input.request_id ?? ctx.requestId ?? null,
  });
}

/** The subject an event is stored under. */
export function eventSubject(event: Pick<DomainEvent, "type" | "resource">): string {
  const { domain, rest } = splitEventType(event.type);
  return Subjects.event(domain, event.resource.name, rest.replaceAll(".", "-"));
}

/** Validate, store durably in EVENTS, and return the stream sequence. */
export async function publishEvent(
  js: JetStreamClient,
  input: EventInput | DomainEvent,
  ctx: EventContext = {},
): Promise<PublishedEvent> {
  const event = buildEvent(input as EventInput, ctx);
  const h = natsHeaders();
  h.set(EventHeader.Type, event.type);
  h.set(EventHeader.ResourceKind, event.resource.kind);
  h.set(EventHeader.Resource, event.resource.name);
  const ack = await js.publish(eventSubject(event), JSON.stringify(event), { msgID: event.id, headers: h });
  return { seq: ack.seq, event, duplicate: ack.duplicate };
}

/** All catalogue event types (re-exported for producers' exhaustiveness checks). */
export type { EventType };
