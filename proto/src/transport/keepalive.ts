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

/** Start sending keepalives to `respond`; the returned function stops them. */
export function startKeepalive(
  everyMs: number,
  respond: (data: Uint8Array, opts: { headers: MsgHdrs }) => void,
): () => void {
  const h = natsHeaders();
  h.set(KEEPALIVE_HEADER, "1");
  const empty = new Uint8Array(0);
  const t = setInterval(() => {
    try {
      respond(empty, { headers: h });
    } catch {
      // The connection is closing: the reply will not arrive either.
    }
  }, everyMs);
  t.unref();
  return () => clearInterval(t);
}
