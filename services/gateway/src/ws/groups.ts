/**
 * Filter groups: connections whose principal sees the same events and who subscribed to
 * the same topics share one group, so "does this event go to this connection" is decided
 * once per group and range of events, not once per connection and event, and the frames
 * a group wants are concatenated once and written to every member.
 *
 * Visibility (`eventVisibleTo`) reads only the principal's permissions, resource scopes
 * and — for `auth.*` events without `users:admin` — its user id: those, plus the sorted
 * topics, are the group's key.
 */
import { eventVisibleTo, Perm, type Principal, topicsMatcher } from "@edgeplane/proto";
import type { FeedEvent } from "./feed.ts";

export function groupKey(p: Principal, topics: Iterable<string>): string {
  const user = p.permissions.includes(Perm.UsersAdmin) ? "" : p.user_id;
  return `${user}\n${[...p.permissions].sort().join(",")}\n${JSON.stringify(p.resources ?? null)}\n${[...topics].sort().join(",")}`;
}

export class FilterGroup {
  readonly key: string;
  readonly #principal: Principal;
  readonly #match: (type: string) => boolean;
  /** Connections in the group (the hub drops the group at 0). */
  members = 0;
  /** The last range of the hub's log decided for this group: [from, to) and what it wants of it. */
  from = -1;
  to = -1;
  list: FeedEvent[] = [];
  /** Whether `list` is the whole range (then the hub's shared buffer of the range serves). */
  all = false;
  /** `list`'s frames concatenated, built on first use. */
  frames: Buffer | undefined;

  constructor(key: string, principal: Principal, topics: Iterable<string>) {
    this.key = key;
    this.#principal = principal;
    this.#match = topicsMatcher(topics);
  }

  wants(e: FeedEvent): boolean {
    return this.#match(e.head.type) && eventVisibleTo(this.#principal, e.head);
  }
}
