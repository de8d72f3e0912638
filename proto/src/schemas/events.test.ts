/** The event catalogue, topic patterns and visibility rules (pure functions, no I/O). */
import { describe, expect, test } from "vitest";
import { buildEvent, eventSubject } from "../transport/events.ts";
import type { Principal } from "./common.ts";
import {
  DomainEvent,
  EVENT_TYPES,
  EventDomainPermission,
  ScopeOfResourceKind,
  splitEventType,
} from "./events.ts";
import { eventVisibleTo, Topic, topicMatcher, topicsMatcher } from "./events-access.ts";

const owner: Principal = {
  kind: "api_key",
  user_id: "usr_owner",
  username: "owner",
  role: "owner",
  key_id: "key_owner",
  permissions: [
    "haproxy:read",
    "wg:read",
    "adapters:read",
    "audit:read",
    "keys:manage",
    "users:admin",
    "events:read",
  ],
};
const viewerA: Principal = {
  ...owner,
  user_id: "usr_viewer",
  role: "viewer",
  permissions: ["haproxy:read", "wg:read", "events:read"],
  resources: { haproxy_clusters: ["a"] },
};
const operator: Principal = {
  ...owner,
  user_id: "usr_op",
  role: "operator",
  permissions: ["keys:manage", "haproxy:read"],
};

const ev = (type: string, kind: string, name: string, data: unknown = {}) => ({
  type,
  resource: { kind, name },
  data,
});

describe("events - catalogue", () => {
  test("covers every domain of the mesh, each type once, each domain with a read permission", () => {
    expect(new Set(EVENT_TYPES).size).toBe(EVENT_TYPES.length);
    for (const t of [
      "haproxy.state.committed",
      "haproxy.state.applied",
      "haproxy.state.failed",
      "haproxy.reload",
      "haproxy.runtime.changed",
      "haproxy.cert.created",
      "wireguard.peer.created",
      "wireguard.peer.updated",
      "wireguard.peer.deleted",
      "wireguard.peer.expired",
      "wireguard.peer.handshake",
      "adapters.change.staged",
      "adapters.change.applied",
      "adapters.change.failed",
      "adapters.change.rolled_back",
      "adapters.change.discarded",
      "audit.appended",
      "auth.key.created",
      "auth.key.revoked",
    ])
      expect(EVENT_TYPES).toContain(t);
    for (const t of EVENT_TYPES) expect(EventDomainPermission).toHaveProperty(splitEventType(t).domain);
  });

  test("each type pins its resource kind, and every kind maps to a scope list or none", () => {
    for (const o of DomainEvent.options) {
      const kind = o.shape.resource.shape.kind.value;
      expect(Object.keys(ScopeOfResourceKind)).toContain(kind);
    }
  });

  test("buildEvent fills id, time, version, actor and request id; the subject is one token per level", () => {
    const e = buildEvent(
      {
        type: "haproxy.state.committed",
        resource: { kind: "cluster", name: "edge.eu" },
        data: { revision: 7, previous_revision: 6 },
      },
      { principal: owner, requestId: "req_1" },
    );
    expect(e).toMatchObject({
      version: 1,
      request_id: "req_1",
      actor: { type: "api_key", id: "key_owner", name: "owner" },
    });
    expect(e.id).toMatch(/^evt_/);
    expect(eventSubject(e)).toBe("ep.v1.evt.haproxy.edge~eu.state-committed");
    const sys = buildEvent(
      {
        type: "haproxy.reload",
        resource: { kind: "cluster", name: "c" },
        data: { node: "n1", result: "success", reason: "state", duration_ms: 40 },
      },
      { system: "haproxy-agent/n1" },
    );
    expect(sys.actor).toEqual({ type: "system", id: null, name: "haproxy-agent/n1" });
  });

  test("buildEvent refuses a wrong resource kind, a bad name, a missing field and an unknown type", () => {
    const bad = [
      {
        type: "haproxy.reload",
        resource: { kind: "interface", name: "c" },
        data: { node: "n", result: "success", reason: "state", duration_ms: 1 },
      },
      {
        type: "haproxy.reload",
        resource: { kind: "cluster", name: "a b" },
        data: { node: "n", result: "success", reason: "state", duration_ms: 1 },
      },
      { type: "auth.key.created", resource: { kind: "api_key", name: "key_1" }, data: { key_id: "key_1" } },
      { type: "haproxy.unknown", resource: { kind: "cluster", name: "c" }, data: {} },
    ];
    for (const b of bad) expect(() => buildEvent(b as never)).toThrow();
  });
});

describe("events - topics", () => {
  test("wildcards: `*` alone, trailing `*` (one or more levels), inner `*` (one level)", () => {
    const cases: Array<[string, string, boolean]> = [
      ["*", "haproxy.reload", true],
      ["haproxy.*", "haproxy.state.committed", true],
      ["haproxy.*", "haproxy", false],
      ["haproxy.*", "haproxyx.reload", false],
      ["wireguard.peer.*", "wireguard.peer.created", true],
      ["wireguard.peer.*", "wireguard.interface.created", false],
      ["*.peer.created", "wireguard.peer.created", true],
      ["*.peer.created", "wireguard.peer.deleted", false],
      ["haproxy.reload", "haproxy.reload", true],
      ["haproxy.reload", "haproxy.reloaded", false],
      ["haproxy.cert.*", "haproxy.cert.renewal_failed", true],
    ];
    for (const [t, type, want] of cases) expect(topicMatcher(t)(type), `${t} ~ ${type}`).toBe(want);
    expect(topicsMatcher(["auth.key.*", "haproxy.reload"])("auth.key.revoked")).toBe(true);
    expect(topicsMatcher([])("haproxy.reload")).toBe(false);
  });

  test("topic grammar refuses what is not a pattern", () => {
    for (const t of ["", "Haproxy.*", "haproxy.", "haproxy..x", "haproxy.>", "a.b.c.d.e.f", "haproxy.$"])
      expect(Topic.safeParse(t).success, t).toBe(false);
    for (const t of ["*", "haproxy.*", "*.peer.*", "adapters.change.rolled_back"])
      expect(Topic.safeParse(t).success, t).toBe(true);
  });
});

describe("events - visibility", () => {
  test("the domain's read permission is required; unknown domains are never delivered", () => {
    expect(eventVisibleTo(viewerA, ev("adapters.change.applied", "controller", "ctl_1"))).toBe(false);
    expect(eventVisibleTo(owner, ev("adapters.change.applied", "controller", "ctl_1"))).toBe(true);
    expect(eventVisibleTo(owner, ev("billing.invoice.paid", "cluster", "a"))).toBe(false);
  });

  test("resource scope: cluster a only; unrestricted kinds stay visible", () => {
    expect(eventVisibleTo(viewerA, ev("haproxy.reload", "cluster", "a"))).toBe(true);
    expect(eventVisibleTo(viewerA, ev("haproxy.reload", "cluster", "b"))).toBe(false);
    expect(eventVisibleTo(viewerA, ev("wireguard.peer.created", "interface", "wg0"))).toBe(true);
  });

  test("a scoped principal never sees the audit log or key events; without users:admin only its own keys", () => {
    const audit = ev("audit.appended", "audit_log", "main");
    expect(eventVisibleTo({ ...viewerA, permissions: [...viewerA.permissions, "audit:read"] }, audit)).toBe(
      false,
    );
    expect(eventVisibleTo(owner, audit)).toBe(true);
    const own = ev("auth.key.created", "api_key", "key_1", { user_id: "usr_op" });
    const other = ev("auth.key.created", "api_key", "key_2", { user_id: "usr_owner" });
    expect(eventVisibleTo(operator, own)).toBe(true);
    expect(eventVisibleTo(operator, other)).toBe(false);
    expect(eventVisibleTo(owner, own)).toBe(true);
  });
});
