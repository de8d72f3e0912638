/**
 * gateway ws - filter groups: connections share a group exactly when they would receive
 * the same events, and a group's decision is the per-connection rule (topics, then
 * `eventVisibleTo`) — checked over principals × topic sets × events.
 */
import { eventVisibleTo, Perm, type Principal, topicsMatcher } from "@edgeplane/proto";
import { describe, expect, it } from "vitest";
import type { FeedEvent } from "./feed.ts";
import { FilterGroup, groupKey } from "./groups.ts";

const base = (over: Partial<Principal>): Principal => ({
  kind: "api_key",
  user_id: "usr_a",
  username: "a",
  role: "operator",
  permissions: [Perm.EventsRead, Perm.HaproxyRead, Perm.WgRead, Perm.AuditRead],
  ...over,
});

const ev = (type: string, kind: string, name: string, data?: unknown): FeedEvent => ({
  seq: 1,
  head: { type, resource: { kind, name }, data },
  raw: "",
  wire: Buffer.alloc(0),
});

const events = [
  ev("haproxy.state.committed", "cluster", "a"),
  ev("haproxy.state.committed", "cluster", "b"),
  ev("wireguard.peer.created", "interface", "wg0"),
  ev("audit.appended", "audit_log", "main"),
  ev("auth.key.created", "api_key", "key_1", { user_id: "usr_a" }),
  ev("auth.key.created", "api_key", "key_2", { user_id: "usr_b" }),
];

const principals: Principal[] = [
  base({}),
  base({ user_id: "usr_b", username: "b" }),
  base({ resources: { haproxy_clusters: ["a"] } }),
  base({ permissions: [Perm.EventsRead, Perm.UsersAdmin, Perm.KeysManage] }),
  base({ user_id: "usr_b", permissions: [Perm.EventsRead, Perm.UsersAdmin, Perm.KeysManage] }),
  base({ permissions: [Perm.EventsRead, Perm.KeysManage] }),
  base({ user_id: "usr_b", permissions: [Perm.EventsRead, Perm.KeysManage] }),
];
const topicSets = [["*"], ["haproxy.*"], ["auth.*", "haproxy.state.committed"], ["*.peer.created"]];

describe("gateway ws - filter groups", () => {
  it("decides like the per-connection rule for every principal, topic set and event", () => {
    for (const p of principals) {
      for (const topics of topicSets) {
        const g = new FilterGroup(groupKey(p, topics), p, topics);
        const match = topicsMatcher(topics);
        for (const e of events) {
          expect(g.wants(e)).toBe(match(e.head.type) && eventVisibleTo(p, e.head));
        }
      }
    }
  });

  it("same key only when the decisions are the same; topic order does not matter", () => {
    expect(groupKey(principals[0] as Principal, ["a.*", "b.c"])).toBe(
      groupKey(principals[0] as Principal, ["b.c", "a.*"]),
    );
    for (const p of principals) {
      for (const q of principals) {
        for (const topics of topicSets) {
          if (groupKey(p, topics) !== groupKey(q, topics)) continue;
          const gp = new FilterGroup("p", p, topics);
          const gq = new FilterGroup("q", q, topics);
          for (const e of events) expect(gp.wants(e)).toBe(gq.wants(e));
        }
      }
    }
    // users:admin sees every user's key events: one group across users; without it, one per user.
    expect(groupKey(principals[3] as Principal, ["*"])).toBe(groupKey(principals[4] as Principal, ["*"]));
    expect(groupKey(principals[5] as Principal, ["*"])).not.toBe(groupKey(principals[6] as Principal, ["*"]));
    expect(groupKey(principals[0] as Principal, ["*"])).not.toBe(groupKey(principals[2] as Principal, ["*"]));
  });
});
