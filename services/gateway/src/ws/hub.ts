/**
 * The WebSocket hub of one gateway: accepts upgrades on `/api/v1/ws` and `/api/ws`,
 * enforces the caps (per instance, per user, per connection), fans every live event of
 * the feed out to the connections that subscribed to it and may see it, runs heartbeats,
 * and re-verifies connections when a revocation notice arrives.
 *
 * Credentials are verified through the gateway's `Authenticator` (the same code path as
 * every HTTP route): the upgrade's headers, or `Authorization: Bearer <token>` built from
 * the first `auth` frame.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import {
  EpError,
  eventsWsRoute,
  type Logger,
  newId,
  Perm,
  type Principal,
  Subjects,
  WsClose,
} from "@edgeplane/proto";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { FastifyRequest } from "fastify";
import { WebSocketServer } from "ws";
import type { Authenticator } from "../plugins/auth.ts";
import type { WsConfig } from "./config.ts";
import { Connection } from "./connection.ts";
import type { EventFeed, FeedEvent } from "./feed.ts";
import { FilterGroup, groupKey } from "./groups.ts";

/** Connections visited per turn of the event loop during a sweep (NATS input and pings keep flowing). */
const SWEEP_CHUNK = 64;

export const WS_PATHS: readonly string[] = [eventsWsRoute.path, ...(eventsWsRoute.aliases ?? [])];

export type VerifyResult = { ok: true; principal: Principal } | { ok: false; code: string };

export interface HubDeps {
  config: WsConfig;
  feed: EventFeed;
  auth: Authenticator;
  nc: NatsConnection;
  log: Logger;
  instance: string;
}

function pathOf(url: string | undefined): string {
  const u = url ?? "/";
  const q = u.indexOf("?");
  const p = q < 0 ? u : u.slice(0, q);
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}

/** A minimal request view for the Authenticator (it reads headers, id, ip, url, log). */
function authRequest(
  headers: Record<string, string>,
  conn: { id: string; ip: string },
  log: Logger,
): FastifyRequest {
  const cookies: Record<string, string> = {};
  for (const part of (headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) cookies[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return {
    id: conn.id,
    ip: conn.ip,
    url: eventsWsRoute.path,
    method: "GET",
    headers,
    cookies,
    routeOptions: { url: eventsWsRoute.path },
    log,
  } as unknown as FastifyRequest;
}

export class Hub {
  readonly config: WsConfig;
  readonly feed: EventFeed;
  readonly log: Logger;
  readonly instance: string;
  #auth: Authenticator;
  #wss: WebSocketServer;
  #conns = new Set<Connection>();
  #byUser = new Map<string, Set<Connection>>();
  #subscriptions = 0;
  #unsubscribeFeed: () => void;
  #heartbeat: NodeJS.Timeout;
  #invalidations: Subscription;
  #groups = new Map<string, FilterGroup>();
  /**
   * Events not yet visited on every connection: `#log[i]` has the absolute index
   * `#logBase + i`; a connection's `cursor` is the index of the first event not yet
   * considered for it. The newest event's sequence is `#headSeq`.
   */
  #log: FeedEvent[] = [];
  #logBase = 0;
  #headSeq: number;
  /** Connections in sweep order (holes where one left; compacted at the end of a round). */
  #order: (Connection | undefined)[] = [];
  #pos = 0;
  #sweeping = false;
  #roundHead = 0;
  #roundStart = 0;
  #lastRoundStart = Number.NEGATIVE_INFINITY;
  /** Frames of a whole range `from:to` of the log, shared by every group that wants all of it. */
  #ranges = new Map<string, Buffer>();
  #rounds = 0;
  #writes = 0;
  #events = 0;
  #roundMs = 0;
  #roundMaxMs = 0;
  #busyMs = 0;
  slowClosed = 0;

  constructor(deps: HubDeps) {
    this.config = deps.config;
    this.feed = deps.feed;
    this.log = deps.log;
    this.instance = deps.instance;
    this.#auth = deps.auth;
    this.#headSeq = deps.feed.liveSeq;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: deps.config.EP_WS_MAX_FRAME_BYTES,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.#unsubscribeFeed = deps.feed.subscribe((e) => this.#dispatch(e));
    this.#heartbeat = setInterval(() => this.#beat(), deps.config.EP_WS_HEARTBEAT_MS);
    this.#heartbeat.unref();
    this.#invalidations = deps.nc.subscribe(Subjects.bcast.authInvalidate, {
      callback: (_err, msg) => {
        let f: { key_id?: string; user_id?: string } = {};
        try {
          f = msg.data.length ? (msg.json() as typeof f) : {};
        } catch {
          f = {};
        }
        void this.#revalidate(f);
      },
    });
  }

  /** Take over `upgrade` requests for the WebSocket paths of `server`. */
  attach(server: Server): void {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!WS_PATHS.includes(pathOf(req.url))) {
        if (server.listenerCount("upgrade") === 1) {
          socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        }
        return;
      }
      this.#upgrade(req, socket, head);
    });
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => undefined);
    const ip = req.socket.remoteAddress ?? "";
    // Cookies ride along cross-site: a cookie-authenticated upgrade must come from our origin.
    const headers: Record<string, string> = {};
    for (const h of ["authorization", "x-api-key", "cookie"]) {
      const v = req.headers[h];
      if (typeof v === "string" && v.length > 0) headers[h] = v;
    }
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (headers.cookie && !headers.authorization && !headers["x-api-key"] && origin && host) {
      let same = false;
      try {
        same = new URL(origin).host === host;
      } catch {
        same = false;
      }
      if (!same) delete headers.cookie;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new Connection(this, ws, newId("req"), ip);
      ws.on("error", (err) => this.log.debug({ err, conn: conn.id }, "websocket error"));
      ws.on("close", () => conn.close(WsClose.Normal, ""));
      if (this.#conns.size >= this.config.EP_WS_MAX_CONNECTIONS) {
        conn.state = "closed";
        ws.close(
          WsClose.TryAgainLater,
          `gateway connection limit reached (${this.config.EP_WS_MAX_CONNECTIONS})`,
        );
        setTimeout(() => ws.terminate(), 5_000).unref();
        return;
      }
      this.#conns.add(conn);
      conn.cursor = this.#logBase + this.#log.length;
      conn.cursorSeq = this.#headSeq;
      conn.slot = this.#order.length;
      this.#order.push(conn);
      conn.start(Object.keys(headers).length > 0 ? headers : undefined);
    });
  }

  /** Verify a credential through the gateway's authenticator; needs `events:read`. */
  async verify(headers: Record<string, string>, conn: { id: string; ip: string }): Promise<VerifyResult> {
    try {
      const p = await this.#auth.authenticate(authRequest(headers, conn, this.log), eventsWsRoute);
      if (!p.permissions.includes(Perm.EventsRead)) return { ok: false, code: "forbidden" };
      return { ok: true, principal: p };
    } catch (err) {
      if (err instanceof EpError && err.status === 401) return { ok: false, code: err.code };
      this.log.warn({ err }, "websocket authentication failed");
      return { ok: false, code: "unavailable" };
    }
  }

  /** Count an authenticated connection against its user's cap; closes it (1013) when over. */
  admit(conn: Connection): boolean {
    const user = (conn.principal as Principal).user_id;
    let set = this.#byUser.get(user);
    if (!set) {
      set = new Set();
      this.#byUser.set(user, set);
    }
    if (set.size >= this.config.EP_WS_MAX_PER_PRINCIPAL) {
      conn.close(
        WsClose.TryAgainLater,
        `too many connections for this user (${this.config.EP_WS_MAX_PER_PRINCIPAL})`,
      );
      return false;
    }
    set.add(conn);
    return true;
  }

  detach(conn: Connection): void {
    if (this.#conns.delete(conn) && this.#order[conn.slot] === conn) this.#order[conn.slot] = undefined;
    this.#leaveGroup(conn);
    const user = conn.principal?.user_id;
    const set = user ? this.#byUser.get(user) : undefined;
    if (set?.delete(conn) && set.size === 0) this.#byUser.delete(user as string);
    this.countSubscriptions(-conn.topics.size);
  }

  /** Topics subscribed across connections (for stats), kept incrementally. */
  countSubscriptions(delta: number): void {
    this.#subscriptions += delta;
  }

  /** Put `conn` in the filter group of its principal and topics (none: not open or no topics). */
  regroup(conn: Connection): void {
    const old = conn.group;
    let g: FilterGroup | undefined;
    if (conn.state === "open" && conn.principal && conn.topics.size > 0) {
      const key = groupKey(conn.principal, conn.topics);
      g = this.#groups.get(key);
      if (!g) {
        g = new FilterGroup(key, conn.principal, conn.topics);
        this.#groups.set(key, g);
      }
    }
    if (g === old) return;
    if (g) g.members++;
    this.#leaveGroup(conn);
    conn.group = g;
    if (old === undefined && g !== undefined) {
      // Subscribed from nothing: live from now. The events logged since the connection
      // came (or since it unsubscribed from everything) were never its to receive; the
      // subscribe's `live_from` and any replay start from here.
      conn.cursor = this.#logBase + this.#log.length;
      conn.cursorSeq = this.#headSeq;
    }
  }

  #leaveGroup(conn: Connection): void {
    const g = conn.group;
    conn.group = undefined;
    if (g && --g.members === 0) this.#groups.delete(g.key);
  }

  /**
   * Fan-out is a rolling sweep over the connections: each visit writes, in one socket
   * write, everything that arrived since the connection's last visit. An event therefore
   * reaches every connection within one round (the time to visit all of them), not
   * "wait for the fan-out in progress, then one more". Idle, the first event starts a round
   * at once; events arriving during a round are picked up by the rest of that round and
   * by the next one, which starts only if something arrived (self-clocking: loaded, each
   * write carries more events and the writes per second stay bounded). Rounds also start
   * at least `connections / 250` ms apart (capped by EP_WS_COALESCE_MS): with thousands of
   * connections, close events share a write (and a read on each client).
   */
  #dispatch(e: FeedEvent): void {
    this.#log.push(e);
    this.#headSeq = e.seq;
    this.#events++;
    if (this.#sweeping) return;
    this.#sweeping = true;
    this.#startRound();
  }

  #startRound(): void {
    const spacing = Math.min(this.config.EP_WS_COALESCE_MS, this.#conns.size / 250);
    const wait = this.#lastRoundStart + spacing - performance.now();
    if (wait <= 0.5) setImmediate(this.#begin);
    else setTimeout(this.#begin, wait);
  }

  #begin = (): void => {
    this.#pos = 0;
    this.#roundHead = this.#logBase + this.#log.length;
    this.#roundStart = this.#lastRoundStart = performance.now();
    this.#step();
  };

  #step = (): void => {
    const t0 = performance.now();
    const order = this.#order;
    const end = Math.min(order.length, this.#pos + SWEEP_CHUNK);
    for (; this.#pos < end; this.#pos++) {
      const c = order[this.#pos];
      if (c !== undefined) this.#visit(c);
    }
    const t1 = performance.now();
    this.#busyMs += t1 - t0;
    if (this.#pos < order.length) {
      setImmediate(this.#step);
      return;
    }
    this.#endRound(t1);
    if (this.#logBase + this.#log.length !== this.#roundHead) this.#startRound();
    else this.#sweeping = false;
  };

  /** Write what `c` has not seen yet (its group's share of the log since its cursor). */
  #visit(c: Connection): void {
    const from = c.cursor;
    const to = this.#logBase + this.#log.length;
    if (from >= to) return;
    c.cursor = to;
    c.cursorSeq = this.#headSeq;
    const g = c.group;
    if (g === undefined || c.state !== "open") return;
    if (g.from !== from || g.to !== to) {
      const list: FeedEvent[] = [];
      for (let i = from - this.#logBase; i < to - this.#logBase; i++) {
        const e = this.#log[i] as FeedEvent;
        if (g.wants(e)) list.push(e);
      }
      g.from = from;
      g.to = to;
      g.list = list;
      g.all = list.length === to - from;
      g.frames = undefined;
    }
    if (g.list.length === 0) return;
    this.#writes++;
    c.deliver(g.list, () => {
      g.frames ??= g.all ? this.#range(from, to, g.list) : frames(g.list);
      return g.frames;
    });
  }

  #range(from: number, to: number, list: readonly FeedEvent[]): Buffer {
    const key = `${from}:${to}`;
    let b = this.#ranges.get(key);
    if (!b) {
      b = frames(list);
      this.#ranges.set(key, b);
    }
    return b;
  }

  /** Every connection has now seen the log up to the round's start: drop it, compact the order. */
  #endRound(now: number): void {
    const ms = now - this.#roundStart;
    this.#rounds++;
    this.#roundMs += ms;
    if (ms > this.#roundMaxMs) this.#roundMaxMs = ms;
    const drop = this.#roundHead - this.#logBase;
    if (drop > 0) {
      this.#log.splice(0, drop);
      this.#logBase = this.#roundHead;
    }
    this.#ranges.clear();
    const order = this.#order;
    let k = 0;
    for (let i = 0; i < order.length; i++) {
      const c = order[i];
      if (c === undefined) continue;
      c.slot = k;
      order[k++] = c;
    }
    order.length = k;
  }

  #beat(): void {
    const stale = Date.now() - this.config.EP_WS_REVERIFY_MS;
    const due: Connection[] = [];
    for (const c of this.#conns) {
      if (c.state === "open" && c.verifiedAt < stale) due.push(c);
      if (!c.alive) {
        c.close(WsClose.GoingAway, "heartbeat missed");
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      try {
        c.ws.ping();
      } catch {
        /* closed meanwhile */
      }
    }
    // Long-lived connections re-verify their credential now and then: an expired token or
    // a key that lapsed without a revocation notice does not keep a stream open.
    if (due.length > 0) void this.#reverify(due, "credential expired");
  }

  /** A revocation/role notice: re-verify the affected connections; close those that fail. */
  async #revalidate(f: { key_id?: string; user_id?: string }): Promise<void> {
    this.#auth.cache.invalidate(f);
    const all = !f.key_id && !f.user_id;
    const affected = [...this.#conns].filter(
      (c) =>
        c.state === "open" &&
        (all ||
          (f.key_id !== undefined && c.principal?.key_id === f.key_id) ||
          (f.user_id !== undefined && c.principal?.user_id === f.user_id)),
    );
    await this.#reverify(affected, "credential revoked");
  }

  async #reverify(conns: readonly Connection[], reason: string): Promise<void> {
    await Promise.all(
      conns.map(async (c) => {
        const r = await this.verify(c.credential ?? {}, c);
        if (c.state !== "open") return;
        if (r.ok) {
          c.principal = r.principal;
          c.verifiedAt = Date.now();
          this.regroup(c);
        } else if (r.code !== "unavailable") {
          c.close(WsClose.PolicyViolation, reason);
        }
      }),
    );
  }

  stats() {
    let authenticated = 0;
    for (const c of this.#conns) if (c.state === "open") authenticated++;
    return {
      instance: this.instance,
      connections: this.#conns.size,
      authenticated,
      principals: this.#byUser.size,
      subscriptions: this.#subscriptions,
      live_seq: this.feed.liveSeq,
      fanout: {
        rounds: this.#rounds,
        events: this.#events,
        writes: this.#writes,
        groups: this.#groups.size,
        avg_ms: this.#rounds ? Math.round((this.#roundMs / this.#rounds) * 1000) / 1000 : 0,
        max_ms: Math.round(this.#roundMaxMs * 1000) / 1000,
        busy_ms: Math.round(this.#busyMs),
        slow_consumers_closed: this.slowClosed,
      },
      limits: {
        connections: this.config.EP_WS_MAX_CONNECTIONS,
        per_principal: this.config.EP_WS_MAX_PER_PRINCIPAL,
        subscriptions: this.config.EP_WS_MAX_SUBSCRIPTIONS,
      },
    };
  }

  /** Close every connection (1001) and stop; the feed is stopped by its owner. */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#unsubscribeFeed();
    this.#invalidations.unsubscribe();
    for (const c of [...this.#conns]) c.close(WsClose.GoingAway, "gateway stopping");
    await new Promise<void>((r) => this.#wss.close(() => r()));
  }
}

/** Complete frames, concatenated (one event: its own buffer). */
function frames(list: readonly FeedEvent[]): Buffer {
  return list.length === 1 ? (list[0] as FeedEvent).wire : Buffer.concat(list.map((e) => e.wire));
}
