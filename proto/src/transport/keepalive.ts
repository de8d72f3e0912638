/**
 * Liveness of a long request. A request's timeout says how long its work may take (a
 * chain verification: minutes); it cannot also say how soon a caller learns that the
 * instance doing the work died, or a read held by a SIGKILLed instance waits out the whole
 * timeout before its retry. So a caller that opts in (header `ep-keepalive` = the interval
 * it expects, ms) gets an empty message with that header every interval while the handler
 * runs, and treats `LIVENESS_MS` without any message as a lost request (a NATS timeout,
 * retried for idempotent reads like any other). Callers that do not opt in (plain
 * `nc.request()`) never see a keepalive, which they would take for the reply.
 */
import { type Msg, type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";

export const KEEPALIVE_HEADER = "ep-keepalive";
/** How often a handler still running says so. */
export const KEEPALIVE_EVERY_MS = 2000;
/** Silence after which the caller gives a request up (three keepalives missed, and some). */
export const LIVENESS_MS = 7000;

/** Opt a request in (its headers): only worth it when its timeout exceeds `LIVENESS_MS`. */
export function askKeepalive(h: MsgHdrs, everyMs = KEEPALIVE_EVERY_MS): void {
  h.set(KEEPALIVE_HEADER, String(everyMs));
}

/** The interval a request asked for (ms), or null when it did not opt in. */
export function keepaliveRequested(h: MsgHdrs | undefined): number | null {
  const v = Number(h?.get(KEEPALIVE_HEADER) ?? "");
  return Number.isInteger(v) && v >= 10 ? v : null;
}

export function isKeepalive(msg: Msg): boolean {
  return msg.data.length === 0 && !!msg.headers?.get(KEEPALIVE_HEADER);
}

type Respond = (data: Uint8Array, opts: { headers: MsgHdrs }) => void;

/** How often the shared ticker looks for handlers due a keepalive. */
const TICK_MS = 100;

/**
 * Keepalives of one service's running handlers. One shared ticker (running while
 * something was tracked in its last period) instead of a timer per request: most requests answer long before
 * their first keepalive is due, and tracking them is a Map insert and delete.
 */
export class KeepaliveTicker {
  readonly #due = new Map<object, { respond: Respond; every: number; next: number }>();
  readonly #headers: MsgHdrs;
  readonly #empty = new Uint8Array(0);
  #timer: NodeJS.Timeout | undefined;

  constructor() {
    this.#headers = natsHeaders();
    this.#headers.set(KEEPALIVE_HEADER, "1");
  }

  /** Send keepalives every `everyMs` until the returned function is called. */
  track(everyMs: number, respond: Respond): () => void {
    const key = {};
    this.#due.set(key, { respond, every: everyMs, next: Date.now() + everyMs });
    this.#timer ??= setInterval(() => this.#tick(), Math.min(TICK_MS, everyMs)).unref();
    return () => {
      this.#due.delete(key);
    };
  }

  #tick(): void {
    // Stopped lazily, by the tick that finds nothing tracked: a steady trickle of short
    // requests does not start and stop a timer each.
    if (this.#due.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    for (const d of this.#due.values()) {
      if (d.next > now) continue;
      d.next = now + d.every;
      try {
        d.respond(this.#empty, { headers: this.#headers });
      } catch {
        // The connection is closing: the reply will not arrive either.
      }
    }
  }
}
