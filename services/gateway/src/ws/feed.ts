/**
 * The gateway's view of the EVENTS stream: one live ordered consumer per gateway process
 * (started at the stream's last sequence + 1), a ring of recent events, replays, and
 * the stored-event reads behind the REST list/get.
 *
 * The seam invariant replay relies on (the hub keeps it per connection, at the
 * connection's `cursorSeq`): every event with `seq <= liveSeq` has already been
 * handed to the live listeners (or was stored before this gateway started), and every
 * event with `seq > liveSeq` will be. A replay `(since, liveSeq]` read from storage plus
 * the live events after `liveSeq` therefore has neither a gap nor a duplicate.
 */

import { randomUUID } from "node:crypto";
import {
  type EventHead,
  EventHeadSchema,
  eventVisibleTo,
  type Logger,
  type Principal,
  Streams,
  subjectToken,
  topicMatcher,
} from "@edgeplane/proto";
import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";

const STREAM = Streams.EVENTS.name;

/** One stored event, parsed once per gateway and shared by every connection. */
export interface FeedEvent {
  seq: number;
  head: EventHead;
  /** The stored JSON, as published. */
  raw: string;
  /** The message `{"type":"event","seq":…,"event":…}` as a complete WebSocket text frame (server frames are unmasked: one for every client). */
  wire: Buffer;
}

/** A final, unmasked text frame around `payload` (RFC 6455 §5.2). */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x81;
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  payload.copy(out, head);
  return out;
}

export type FeedListener = (e: FeedEvent) => void;

function toFeedEvent(seq: number, raw: string): FeedEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const h = EventHeadSchema.safeParse(parsed);
  if (!h.success) return undefined;
  const head: EventHead = {
    type: h.data.type,
    resource: h.data.resource,
    data: (parsed as { data?: unknown }).data,
  };
  return { seq, head, raw, wire: textFrame(Buffer.from(`{"type":"event","seq":${seq},"event":${raw}}`)) };
}

/** Which events a list query wants. */
export interface EventFilter {
  principal: Principal;
  topics?: readonly string[];
  resourceKind?: string;
  resource?: string;
}

const KIND_DOMAIN: Record<string, string> = {
  cluster: "haproxy",
  interface: "wireguard",
  controller: "adapters",
  api_key: "auth",
  audit_log: "audit",
};

/** The narrowest subject filter a query allows (one filter subject: works on NATS 2.9). */
/** Every subject of the EVENTS stream: a scan filtered by it reads the whole stream. */
const ALL_EVENTS = "ep.v1.evt.>";

export function filterSubject(f: Omit<EventFilter, "principal">): string {
  const domain = f.resourceKind ? KIND_DOMAIN[f.resourceKind] : undefined;
  if (domain && f.resource) return `ep.v1.evt.${domain}.${subjectToken(f.resource)}.>`;
  if (domain) return `ep.v1.evt.${domain}.>`;
  const domains = new Set((f.topics ?? []).map((t) => t.split(".")[0]));
  const only = domains.size === 1 ? [...domains][0] : undefined;
  if (only && only !== "*") return `ep.v1.evt.${only}.>`;
  return ALL_EVENTS;
}

export function eventMatcher(f: EventFilter): (e: FeedEvent) => boolean {
  const matchers = (f.topics ?? []).map(topicMatcher);
  return (e) =>
    (matchers.length === 0 || matchers.some((m) => m(e.head.type))) &&
    (!f.resourceKind || e.head.resource.kind === f.resourceKind) &&
    (!f.resource || e.head.resource.name === f.resource) &&
    eventVisibleTo(f.principal, e.head);
}

export interface ListResult {
  items: FeedEvent[];
  /** Cursor to continue with (`before` for desc, `after` for asc), null when exhausted. */
  next: number | null;
  firstSeq: number;
  lastSeq: number;
}

export class EventFeed {
  #js: JetStreamClient;
  #jsm: JetStreamManager;
  #log: Logger;
  #listeners = new Set<FeedListener>();
  #ring: (FeedEvent | undefined)[];
  #ringHead = 0;
  #ringLen = 0;
  #ringBytes = 0;
  #ringMaxBytes: number;
  /** Every event with seq in [coversFrom, liveSeq] is in the ring. */
  #coversFrom = 1;
  #messages: ConsumerMessages | undefined;
  /** Highest stream sequence handed to the live listeners (or stored before start). */
  liveSeq = 0;
  /** Events delivered live since start (metrics). */
  received = 0;

  private constructor(
    js: JetStreamClient,
    jsm: JetStreamManager,
    log: Logger,
    ringSize: number,
    ringMaxBytes: number,
  ) {
    this.#js = js;
    this.#jsm = jsm;
    this.#log = log;
    this.#ring = new Array(ringSize);
    this.#ringMaxBytes = ringMaxBytes;
  }

  static async start(
    js: JetStreamClient,
    jsm: JetStreamManager,
    log: Logger,
    ringSize: number,
    ringMaxBytes = 32 * 1024 * 1024,
  ): Promise<EventFeed> {
    const feed = new EventFeed(js, jsm, log, ringSize, ringMaxBytes);
    const info = await jsm.streams.info(STREAM);
    feed.liveSeq = info.state.last_seq;
    feed.#coversFrom = info.state.last_seq + 1;
    const consumer = await js.consumers.get(STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: info.state.last_seq + 1,
      name_prefix: `gw_live_${randomUUID().slice(0, 8)}`,
    });
    feed.#messages = await consumer.consume({
      max_messages: 512,
      callback: (m: JsMsg) => feed.#onLive(m),
    });
    return feed;
  }

  #onLive(m: JsMsg): void {
    const seq = m.seq;
    if (seq <= this.liveSeq) return; // an ordered consumer reset may re-deliver
    const e = toFeedEvent(seq, m.string());
    this.liveSeq = seq;
    if (!e) {
      this.#log.warn({ seq, subject: m.subject }, "dropping a malformed event");
      return;
    }
    this.received++;
    this.#push(e);
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#log.error({ err }, "event listener failed");
      }
    }
  }

  /** Keep `e` in the ring, evicting the oldest beyond the count or byte cap. */
  #push(e: FeedEvent): void {
    const cap = this.#ring.length;
    const size = e.wire.length + e.raw.length;
    if (cap === 0 || size > this.#ringMaxBytes) {
      // Not kept: nothing before it may be served from memory any more.
      while (this.#ringLen > 0) this.#evict();
      this.#coversFrom = e.seq + 1;
      return;
    }
    while (this.#ringLen === cap || (this.#ringLen > 0 && this.#ringBytes + size > this.#ringMaxBytes)) {
      this.#evict();
    }
    this.#ring[(this.#ringHead + this.#ringLen) % cap] = e;
    this.#ringLen++;
    this.#ringBytes += size;
  }

  #evict(): void {
    const cap = this.#ring.length;
    const old = this.#ring[this.#ringHead] as FeedEvent;
    this.#ring[this.#ringHead] = undefined;
    this.#ringHead = (this.#ringHead + 1) % cap;
    this.#ringLen--;
    this.#ringBytes -= old.wire.length + old.raw.length;
    this.#coversFrom = old.seq + 1;
  }

  /** Events with seq in (since, until] from memory, or undefined if the ring does not cover them. */
  fromRing(since: number, until: number): FeedEvent[] | undefined {
    if (since + 1 < this.#coversFrom) return undefined;
    const out: FeedEvent[] = [];
    const cap = this.#ring.length;
    // Binary search for the first entry with seq > since.
    let lo = 0;
    let hi = this.#ringLen;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#ring[(this.#ringHead + mid) % cap] as FeedEvent).seq > since) hi = mid;
      else lo = mid + 1;
    }
    for (let i = lo; i < this.#ringLen; i++) {
      const e = this.#ring[(this.#ringHead + i) % cap] as FeedEvent;
      if (e.seq > until) break;
      out.push(e);
    }
    return out;
  }

  subscribe(l: FeedListener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /**
   * Replay stored events with seq in (since, until], in order, through `sink` (which may
   * wait, e.g. for a client's buffer to drain). From the ring when it covers the range,
   * otherwise from JetStream with an ordered consumer. Returns how many were read.
   */
  async replay(
    since: number,
    until: number,
    sink: (e: FeedEvent) => Promise<void> | void,
    isCancelled: () => boolean,
  ): Promise<number> {
    if (until <= since) return 0;
    const mem = this.fromRing(since, until);
    if (mem) {
      for (const e of mem) {
        if (isCancelled()) break;
        await sink(e);
      }
      return mem.length;
    }
    let n = 0;
    await this.#scan(since + 1, until, ">", async (e) => {
      if (isCancelled()) return false;
      n++;
      await sink(e);
      return true;
    });
    return n;
  }

  /**
   * Read stored events from `from` up to `until` (inclusive) in order, optionally filtered by
   * subject; `visit` returns false to stop. Bounded by `maxScan` messages.
   */
  async #scan(
    from: number,
    until: number,
    subject: string,
    visit: (e: FeedEvent) => Promise<boolean> | boolean,
    maxScan = Number.POSITIVE_INFINITY,
  ): Promise<{ scanned: number; lastSeq: number }> {
    let scanned = 0;
    let lastSeq = from - 1;
    if (until < from) return { scanned, lastSeq };
    const opts: Parameters<JetStreamClient["consumers"]["get"]>[1] = {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, from),
      name_prefix: `gw_replay_${randomUUID().slice(0, 8)}`,
    };
    if (subject !== ">") (opts as { filter_subjects?: string }).filter_subjects = subject;
    const consumer: Consumer = await this.#js.consumers.get(STREAM, opts);
    const deadline = Date.now() + 30_000;
    try {
      for (;;) {
        const batch = await consumer.fetch({ max_messages: 256, expires: 1000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          if (m.seq > until) return { scanned, lastSeq };
          scanned++;
          lastSeq = m.seq;
          const e = toFeedEvent(m.seq, m.string());
          if (e && !(await visit(e))) return { scanned, lastSeq };
          if (m.seq === until || scanned >= maxScan) return { scanned, lastSeq };
          // `pending` is only a hint (a new consumer has been seen reporting 0 on its first
          // message under load): a scan of the whole stream knows its end, `until`, and reads
          // to it; only a narrower subject filter may end on the hint.
          if (m.info.pending === 0 && subject !== ">" && subject !== ALL_EVENTS) return { scanned, lastSeq };
        }
        if (got === 0) {
          // An empty batch ends the scan only when nothing up to `until` is left to read:
          // a slow or reset consumer must not cut a replay short.
          const { lastSeq: stored } = await this.bounds();
          if (stored <= lastSeq || Date.now() > deadline) return { scanned, lastSeq };
        }
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }

  async bounds(): Promise<{ firstSeq: number; lastSeq: number }> {
    const info = await this.#jsm.streams.info(STREAM);
    return { firstSeq: info.state.first_seq, lastSeq: info.state.last_seq };
  }

  /** One stored event by sequence, or undefined. */
  async get(seq: number): Promise<FeedEvent | undefined> {
    const mem = this.fromRing(seq - 1, seq);
    if (mem?.[0]) return mem[0];
    const m = await this.#jsm.streams.getMessage(STREAM, { seq }).catch(() => null);
    if (!m) return undefined;
    return toFeedEvent(m.seq, m.string());
  }

  /**
   * A page of stored events matching `f`: newest first before `before` (desc), or oldest
   * first after `after` (asc). Reads at most `maxScan` stored events per call; the cursor
   * lets the caller continue where the scan stopped.
   */
  async list(
    f: EventFilter,
    q: { order: "asc" | "desc"; limit: number; after?: number; before?: number },
    maxScan = 20_000,
  ): Promise<ListResult> {
    const { firstSeq, lastSeq } = await this.bounds();
    const match = eventMatcher(f);
    const subject = filterSubject(f);
    const items: FeedEvent[] = [];
    if (lastSeq === 0 || firstSeq > lastSeq) return { items, next: null, firstSeq, lastSeq };
    if (q.order === "asc") {
      const from = Math.max(firstSeq, (q.after ?? 0) + 1);
      const until = Math.min(lastSeq, (q.before ?? Number.POSITIVE_INFINITY) - 1);
      const r = await this.#scan(
        from,
        until,
        subject,
        (e) => {
          if (match(e)) items.push(e);
          return items.length < q.limit;
        },
        maxScan,
      );
      const more = r.lastSeq < until;
      return { items, next: more ? r.lastSeq : null, firstSeq, lastSeq };
    }
    // desc: scan windows backwards from the cursor.
    let end = Math.min(lastSeq, (q.before ?? Number.POSITIVE_INFINITY) - 1);
    const floor = Math.max(firstSeq, (q.after ?? 0) + 1);
    let scanned = 0;
    let window = 256;
    while (end >= floor && items.length < q.limit && scanned < maxScan) {
      const start = Math.max(floor, end - window + 1);
      const found: FeedEvent[] = [];
      const r = await this.#scan(start, end, subject, (e) => {
        if (match(e)) found.push(e);
        return true;
      });
      scanned += Math.max(r.scanned, 1);
      found.reverse();
      for (const e of found) {
        if (items.length >= q.limit) break;
        items.push(e);
      }
      end = start - 1;
      window = Math.min(window * 2, 4096);
    }
    const last = items[items.length - 1];
    let next: number | null = null;
    if (items.length >= q.limit && last) next = last.seq;
    else if (end >= floor) next = end + 1;
    return { items, next, firstSeq, lastSeq };
  }

  async stop(): Promise<void> {
    this.#listeners.clear();
    await this.#messages?.close().catch(() => undefined);
  }
}
