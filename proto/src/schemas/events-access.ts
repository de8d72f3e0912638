/**
 * Who may see which event, and which events a topic pattern selects. Shared by the
 * WebSocket stream and the REST event list so both apply exactly the same rules:
 *
 * 1. The event's domain needs its read permission (`EventDomainPermission`); a domain this
 *    build does not know is never delivered.
 * 2. Resource scope: an event about a cluster / interface / controller is delivered only
 *    if the principal's scope list of that kind is absent or names it.
 * 3. Events about resources no scope list covers (API keys, the audit log) are delivered
 *    only to principals without any resource restriction: a principal narrowed to some
 *    resources must not learn about others through the audit trail.
 * 4. `auth.key.*`: without `users:admin`, only events about the principal's own keys.
 */
import { z } from "zod";
import { Perm } from "../perms.ts";
import type { Principal } from "./common.ts";
import {
  type EventDomain,
  EventDomainPermission,
  type EventResourceKind,
  ScopeOfResourceKind,
} from "./events.ts";

/** The envelope fields access control needs; unknown future event types parse too. */
export interface EventHead {
  type: string;
  resource: { kind: string; name: string };
  data?: unknown;
}

/** Minimal, forward-compatible shape check of a stored event (types this build does not know pass). */
export const EventHeadSchema = z.object({
  id: z.string().describe("Event id."),
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,4}$/)
    .describe("Event type."),
  version: z.number().int().describe("Payload version."),
  time: z.string().describe("When it happened."),
  resource: z.object({ kind: z.string(), name: z.string() }).describe("What it is about."),
});

function hasAnyRestriction(p: Principal): boolean {
  const r = p.resources;
  return (
    !!r &&
    (r.haproxy_clusters !== undefined || r.wg_interfaces !== undefined || r.adapter_controllers !== undefined)
  );
}

/** True when `p` may see `ev` (rules in the module doc). */
export function eventVisibleTo(p: Principal, ev: EventHead): boolean {
  const domain = ev.type.slice(0, ev.type.indexOf("."));
  const perm = (EventDomainPermission as Record<string, Perm | undefined>)[domain as EventDomain];
  if (!perm || !p.permissions.includes(perm)) return false;
  const kind = ev.resource.kind as EventResourceKind;
  if (!(kind in ScopeOfResourceKind)) return false;
  const scopeKey = ScopeOfResourceKind[kind];
  if (scopeKey) {
    const allowed = p.resources?.[scopeKey];
    if (allowed && !allowed.includes(ev.resource.name)) return false;
  } else if (hasAnyRestriction(p)) {
    return false;
  }
  if (domain === "auth" && !p.permissions.includes(Perm.UsersAdmin)) {
    const owner = (ev.data as { user_id?: unknown } | undefined)?.user_id;
    if (owner !== p.user_id) return false;
  }
  return true;
}

// ---------------------------------------------------------------- topics

const SEGMENT = "(?:\\*|[a-z][a-z0-9_]{0,63})";
const TOPIC_RE = new RegExp(`^${SEGMENT}(?:\\.${SEGMENT}){0,4}$`);

/**
 * A topic pattern over event types: `*` alone is every event the principal may see;
 * a trailing `*` matches one or more segments (`haproxy.*`, `haproxy.cert.*`); a `*`
 * elsewhere matches exactly one segment (`*.peer.created`); other segments match exactly.
 */
export const Topic = z
  .string()
  .max(128)
  .regex(TOPIC_RE, "a topic is dot-separated segments of a-z, 0-9, '_' (or `*`), e.g. `haproxy.*`")
  .describe("Event type pattern: `haproxy.state.committed`, `wireguard.peer.*`, `*`.");

/** The regular expression source of a (validated) topic, anchored. */
export function topicSource(topic: string): string {
  if (topic === "*") return "^.+$";
  const pat = topic.split(".");
  const last = pat.length - 1;
  const parts = pat.map((p, i) => (p === "*" ? (i === last ? ".+" : "[^.]+") : p));
  return `^${parts.join("\\.")}$`;
}

/** Compile a (validated) topic into a matcher on event types. */
export function topicMatcher(topic: string): (type: string) => boolean {
  const re = new RegExp(topicSource(topic));
  return (type) => re.test(type);
}

/** One matcher for a set of topics (false for an empty set). */
export function topicsMatcher(topics: Iterable<string>): (type: string) => boolean {
  const src = [...topics].map(topicSource);
  if (src.length === 0) return () => false;
  const re = new RegExp(src.map((s) => `(?:${s})`).join("|"));
  return (type) => re.test(type);
}
