/**
 * The AsyncAPI 3 document of the NATS side: one channel per request subject (with its
 * routing parameters), plus the audit and event streams. Generated from the route table.
 */
import { z } from "zod";
import { routes as allRoutes } from "../routes/index.ts";
import type { RouteSpec } from "../routes/route.ts";
import { AuditEvent } from "../schemas/audit.ts";
import { DomainEvent } from "../schemas/events.ts";
import { Subjects } from "../subjects.ts";
import { placedSchema, type SchemaSink } from "./json-schema.ts";

const channelId = (id: string) => id.replace(/[^A-Za-z0-9_-]/g, "_");

export function buildAsyncApi(opts: {
  version: string;
  routes?: readonly RouteSpec[];
}): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const sink: SchemaSink = new Map();
  const schema = (s: z.ZodType) => placedSchema(s, "output", sink);
  for (const route of opts.routes ?? allRoutes) {
    if (!route.subject) continue;
    const id = channelId(route.id);
    if (id in channels) throw new Error(`asyncapi: routes ${route.id} and another map to channel id ${id}`);
    const paramNames = [...route.subject.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    const request = z.object({
      params: route.params ?? z.object({}),
      query: route.query ?? z.object({}),
      body: route.body ?? z.null().optional(),
      headers: z.record(z.string(), z.string()).optional(),
    });
    channels[id] = {
      address: route.subject,
      description: `${route.summary} (HTTP ${route.method} ${route.path})`,
      ...(paramNames.length
        ? {
            parameters: Object.fromEntries(
              paramNames.map((p) => [p, { description: `Validated name (dots mapped to \`~\`).` }]),
            ),
          }
        : {}),
      messages: {
        request: { name: `${id}_request`, payload: schema(request) },
        reply: {
          name: `${id}_reply`,
          payload: {
            oneOf: [
              {
                type: "object",
                properties: { ok: { const: true }, data: schema(route.reply) },
                required: ["ok", "data"],
              },
              {
                type: "object",
                properties: {
                  ok: { const: false },
                  error: {
                    type: "object",
                    properties: { code: { type: "string" }, message: { type: "string" }, details: {} },
                    required: ["code", "message"],
                  },
                },
                required: ["ok", "error"],
              },
            ],
          },
        },
      },
    };
    operations[id] = {
      action: "receive",
      channel: { $ref: `#/channels/${id}` },
      messages: [{ $ref: `#/channels/${id}/messages/request` }],
      reply: {
        channel: { $ref: `#/channels/${id}` },
        messages: [{ $ref: `#/channels/${id}/messages/reply` }],
      },
      summary: route.summary,
    };
  }
  channels.audit = {
    address: "ep.v1.audit.{category}.{action}",
    description: "Audit events, stored in the JetStream stream AUDIT before the mutation replies.",
    parameters: {
      category: { description: "Audit category." },
      action: { description: "Action, dots mapped to `-`." },
    },
    messages: { auditEvent: { name: "auditEvent", payload: schema(AuditEvent) } },
  };
  channels.authInvalidate = {
    address: Subjects.bcast.authInvalidate,
    description: "Gateways drop cached verifications of a key or user.",
    messages: {
      invalidate: {
        name: "invalidate",
        payload: { type: "object", properties: { key_id: { type: "string" }, user_id: { type: "string" } } },
      },
    },
  };
  channels.events = {
    address: "ep.v1.evt.{domain}.{resource}.{type}",
    description:
      "Domain events (proto/src/schemas/events.ts), stored in the JetStream stream EVENTS by `publishEvent`; gateways fan them out to WebSocket clients.",
    parameters: {
      domain: { description: "First segment of the event type (`haproxy`, `wireguard`, …)." },
      resource: { description: "Resource name (dots mapped to `~`)." },
      type: { description: "Rest of the event type, dots mapped to `-`." },
    },
    messages: { domainEvent: { name: "domainEvent", payload: schema(DomainEvent) } },
  };
  operations.publishEvent = {
    action: "send",
    channel: { $ref: "#/channels/events" },
    messages: [{ $ref: "#/channels/events/messages/domainEvent" }],
  };
  operations.publishAudit = {
    action: "send",
    channel: { $ref: "#/channels/audit" },
    messages: [{ $ref: "#/channels/audit/messages/auditEvent" }],
  };
  return {
    asyncapi: "3.0.0",
    info: {
      title: "edgeplane mesh",
      version: opts.version,
      description: "NATS subjects of the edgeplane worker mesh.",
    },
    defaultContentType: "application/json",
    channels,
    operations,
    ...(sink.size
      ? { components: { schemas: Object.fromEntries([...sink].sort(([a], [b]) => a.localeCompare(b))) } }
      : {}),
  };
}
