/**
 * One WebSocket connection: authentication (upgrade credential or first `auth` frame),
 * subscriptions, replay with a held-back live queue, and the slow-consumer rule.
 * Client frames are handled one at a time, in order.
 */

import type { Socket } from "node:net";
import {
  eventVisibleTo,
  issuesToFields,
  type Principal,
  topicsMatcher,
  WsClientFrame,
  WsClose,
} from "@edgeplane/proto";
import type WebSocket from "ws";
import type { FeedEvent } from "./feed.ts";
import type { FilterGroup } from "./groups.ts";
import type { Hub } from "./hub.ts";

export type ConnState = "authenticating" | "open" | "closed";

export class Connection {
  readonly id: string;
  readonly ip: string;
  readonly ws: WebSocket;
  readonly hub: Hub;
  state: ConnState = "authenticating";
  principal: Principal | undefined;
  /** Headers that authenticated the connection (kept to re-verify on revocation notices). */
  credential: Record<string, string> | undefined;
  verifiedAt = 0;
  topics = new Set<string>();
  /** Set by the hub: principal + topics → which events (none: not open or no topics). */
  group: FilterGroup | undefined;
  /** The hub's log index of the first event not yet considered for this connection. */
  cursor = 0;
  /** Sequence of the last event considered: later ones are still to come from the hub. */
  cursorSeq = 0;
  /** Position in the hub's sweep order. */
  slot = 0;
  /** Live events held while a replay runs (null: deliver at once). */
  #pending: FeedEvent[] | null = null;
  #chain: Promise<void> = Promise.resolve();
  #authTimer: NodeJS.Timeout | undefined;
  alive = true;
  sent = 0;

  constructor(hub: Hub, ws: WebSocket, id: string, ip: string) {
    this.hub = hub;
    this.ws = ws;
    this.id = id;
    this.ip = ip;
  }

  /** Called once the upgrade completed. */
  start(upgradeCredential: Record<string, string> | undefined): void {
    this.#authTimer = setTimeout(
      () => this.close(WsClose.PolicyViolation, "authentication timeout"),
      this.hub.config.EP_WS_AUTH_TIMEOUT_MS,
    );
    this.ws.on("message", (data, isBinary) => {
      this.#chain = this.#chain
        .then(() => this.#onFrame(data, isBinary))
        .catch((err: unknown) => {
          this.hub.log.error({ err, conn: this.id }, "websocket frame handler failed");
          this.close(1011, "internal error");
        });
    });
    this.ws.on("pong", () => {
      this.alive = true;
    });
    if (upgradeCredential) {
      this.#chain = this.#chain.then(() => this.#authenticate(upgradeCredential, undefined, true));
    }
  }

  send(obj: unknown): void {
    if (this.ws.readyState !== 1) return;
    this.ws.send(JSON.stringify(obj));
  }

  close(code: number, reason: string): void {
    if (this.state === "closed") return;
    this.state = "closed";
    clearTimeout(this.#authTimer);
    this.#pending = null;
    this.hub.detach(this);
    if (this.ws.readyState === 0 || this.ws.readyState === 1) this.ws.close(code, reason);
    // A client that does not read never completes the closing handshake: cut it loose.
    setTimeout(() => this.ws.terminate(), 5_000).unref();
  }

  /**
   * Live events from the hub, in sequence order, already filtered for this connection's
   * group; `frames()` is their frames concatenated, built once for the group (or the range).
   * One socket write, or held while a replay runs.
   */
  deliver(list: readonly FeedEvent[], frames: () => Buffer): void {
    if (this.state !== "open") return;
    if (this.#pending) {
      if (this.#pending.length + list.length > this.hub.config.EP_WS_MAX_PENDING) {
        this.close(WsClose.TryAgainLater, "slow consumer: replay backlog exceeded");
        return;
      }
      for (const e of list) this.#pending.push(e);
      return;
    }
    this.#write(frames(), list.length);
  }

  #sendEvent(e: FeedEvent): void {
    this.#write(e.wire, 1);
  }

  /**
   * Write complete, pre-built WebSocket frames straight to the socket (ws frames nothing
   * when it does not compress, so whole frames interleave safely with its own writes). A
   * connection whose buffer is over the cap is closed instead: memory stays bounded.
   */
  #write(frames: Buffer, count: number): void {
    if (this.ws.readyState !== 1) return;
    if (this.ws.bufferedAmount > this.hub.config.EP_WS_MAX_BUFFER_BYTES) {
      this.hub.slowClosed++;
      this.close(WsClose.TryAgainLater, "slow consumer: send buffer full");
      return;
    }
    this.sent += count;
    (this.ws as unknown as { _socket: Socket })._socket.write(frames);
  }

  /** Send, waiting (bounded) for the client to read when its buffer is half full: used by replays. */
  async #sendPaced(e: FeedEvent): Promise<void> {
    const high = this.hub.config.EP_WS_MAX_BUFFER_BYTES / 2;
    while (this.state === "open" && this.ws.bufferedAmount > high) {
      await new Promise((r) => setTimeout(r, 5));
    }
    if (this.state === "open") this.#sendEvent(e);
  }

  async #onFrame(data: WebSocket.RawData, isBinary: boolean): Promise<void> {
    if (this.state === "closed") return;
    if (isBinary) {
      this.send({ type: "error", code: "bad_request", message: "frames are JSON text" });
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString());
    } catch {
      this.send({ type: "error", code: "bad_request", message: "frame is not JSON" });
      return;
    }
    const parsed = WsClientFrame.safeParse(raw);
    if (!parsed.success) {
      const id = typeof (raw as { id?: unknown })?.id === "string" ? (raw as { id: string }).id : undefined;
      this.send({
        type: "error",
        id,
        code: "validation_failed",
        message: "invalid frame",
        details: issuesToFields(parsed.error),
      });
      return;
    }
    const f = parsed.data;
    if (f.type === "ping") {
      this.send({ type: "pong", id: f.id, time: new Date().toISOString() });
      return;
    }
    if (this.state === "authenticating") {
      if (f.type !== "auth") {
        this.send({ type: "error", id: f.id, code: "unauthenticated", message: "send an auth frame first" });
        return;
      }
      await this.#authenticate({ authorization: `Bearer ${f.token}` }, f.id, false);
      return;
    }
    if (f.type === "auth") {
      this.send({ type: "error", id: f.id, code: "conflict", message: "already authenticated" });
      return;
    }
    if (f.type === "unsubscribe") {
      const before = this.topics.size;
      for (const t of f.topics) this.topics.delete(t);
      this.hub.regroup(this);
      this.hub.countSubscriptions(this.topics.size - before);
      this.send({ type: "ack", id: f.id, op: "unsubscribe", topics: [...this.topics] });
      return;
    }
    await this.#subscribe(f.topics, f.since, f.id);
  }

  async #authenticate(headers: Record<string, string>, frameId: string | undefined, upgrade: boolean) {
    if (this.state !== "authenticating") return;
    const r = await this.hub.verify(headers, this);
    if (this.state !== "authenticating") return;
    if (!r.ok) {
      // A cookie that is no credential is not a failure: the client may still send an auth frame.
      if (upgrade && r.code === "unauthenticated") return;
      this.close(
        WsClose.PolicyViolation,
        r.code === "forbidden" ? "forbidden: requires events:read" : "invalid credentials",
      );
      return;
    }
    clearTimeout(this.#authTimer);
    this.principal = r.principal;
    this.credential = headers;
    this.verifiedAt = Date.now();
    if (!this.hub.admit(this)) return;
    this.state = "open";
    this.hub.regroup(this);
    this.send({ type: "ack", id: frameId, op: "auth", user: r.principal.username });
  }

  async #subscribe(topics: readonly string[], since: number | undefined, frameId: string | undefined) {
    const before = new Set(this.topics);
    const added = [...new Set(topics)].filter((t) => !before.has(t));
    if (before.size + added.length > this.hub.config.EP_WS_MAX_SUBSCRIPTIONS) {
      this.close(
        WsClose.TryAgainLater,
        `subscription limit exceeded (${this.hub.config.EP_WS_MAX_SUBSCRIPTIONS} per connection)`,
      );
      return;
    }
    for (const t of added) this.topics.add(t);
    this.hub.regroup(this);
    this.hub.countSubscriptions(added.length);
    const feed = this.hub.feed;
    // Events after cursorSeq are still to be visited by the hub's sweep: they are matched
    // against the topics as they are now; earlier ones come from the replay.
    const liveFrom = this.cursorSeq + 1;
    if (since === undefined || added.length === 0) {
      this.send({ type: "ack", id: frameId, op: "subscribe", topics: [...this.topics], live_from: liveFrom });
      return;
    }
    // Hold live events back from here on (synchronously, before any await): everything
    // with seq >= liveFrom comes from the feed, everything before from storage.
    const until = liveFrom - 1;
    const holding = this.#pending === null;
    if (holding) this.#pending = [];
    const matchNew = topicsMatcher(added);
    const matchOld = topicsMatcher(before);
    const principal = this.principal as Principal;
    let replayFrom = since + 1;
    if (!feed.fromRing(since, since)) {
      replayFrom = Math.max(
        replayFrom,
        (await feed.bounds().catch(() => ({ firstSeq: replayFrom }))).firstSeq,
      );
    }
    this.send({
      type: "ack",
      id: frameId,
      op: "subscribe",
      topics: [...this.topics],
      live_from: liveFrom,
      replay_from: replayFrom,
    });
    let count = 0;
    try {
      await feed.replay(
        since,
        until,
        async (e) => {
          if (!matchNew(e.head.type) || matchOld(e.head.type) || !eventVisibleTo(principal, e.head)) return;
          count++;
          await this.#sendPaced(e);
        },
        () => this.state !== "open",
      );
    } catch (err) {
      this.hub.log.error({ err, conn: this.id }, "replay failed");
      this.close(1011, "replay failed");
      return;
    }
    if (this.state !== "open") return;
    this.send({ type: "ack", id: frameId, op: "replayed", count });
    if (!holding) return;
    // Flush what arrived meanwhile (all seq > until, in order), still holding new arrivals.
    for (let i = 0; this.#pending && i < this.#pending.length; i++) {
      await this.#sendPaced(this.#pending[i] as FeedEvent);
    }
    if (this.state === "open") this.#pending = null;
  }
}
