/**
 * The caller side of a request: `call(nc, subject, payload, meta)` sends JSON with the
 * meta headers and returns the typed reply, or throws the EpError the service sent.
 * "No responders" (nobody subscribed yet, e.g. mid rolling restart) was never delivered,
 * so it is always safe to retry: we do, within a small budget.
 */
import { type NatsConnection, errors as natsErrors } from "@nats-io/transport-node";
import { EpError, Errors, fromWire } from "../errors.ts";
import { type CallMeta, encodeMeta } from "./headers.ts";
import { LIVENESS_MS } from "./keepalive.ts";
import { requesterFor } from "./requester.ts";
import { currentTraceHeaders } from "./trace.ts";
import { decodeJson, encodeJson, type ReplyMeta, type WireReply } from "./wire.ts";

export interface CallOptions extends CallMeta {
  /** Request timeout in ms (default 5000). */
  timeoutMs?: number;
  /** How long to keep retrying when no instance is subscribed (default 1500 ms). */
  noRespondersBudgetMs?: number;
}

export interface CallResult<T> {
  data: T;
  meta?: ReplyMeta;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The domain token of a subject (`ep.v1.auth.verify` → `auth`), for error messages. */
function serviceOf(subject: string): string {
  return subject.split(".")[2] ?? subject;
}

function isNoResponders(err: unknown): boolean {
  if (err instanceof natsErrors.NoRespondersError) return true;
  if (err instanceof natsErrors.RequestError) return err.isNoResponders();
  return false;
}

export async function callRaw<T = unknown>(
  nc: NatsConnection,
  subject: string,
  payload: unknown,
  opts: CallOptions = {},
): Promise<CallResult<T>> {
  const timeout = opts.timeoutMs ?? 5000;
  const budget = opts.noRespondersBudgetMs ?? 1500;
  const trace = opts.traceparent ? {} : currentTraceHeaders();
  const headers = encodeMeta({ ...trace, ...opts });
  const data = encodeJson(payload ?? {});
  const started = Date.now();
  let delay = 20;
  for (;;) {
    try {
      // A long request also gets a liveness bound: an instance that died holding it is
      // noticed after LIVENESS_MS, not after the whole timeout.
      const liveness = timeout > LIVENESS_MS ? LIVENESS_MS : undefined;
      const msg = await requesterFor(nc).request(subject, data, { timeout, headers, liveness });
      const reply = decodeJson(msg.data) as WireReply | undefined;
      if (!reply || typeof reply !== "object" || !("ok" in reply)) {
        throw Errors.Internal.withMessage(`malformed reply from ${serviceOf(subject)}`);
      }
      if (!reply.ok) throw fromWire(reply.error);
      return reply.meta ? { data: reply.data as T, meta: reply.meta } : { data: reply.data as T };
    } catch (err) {
      if (err instanceof EpError) throw err;
      if (isNoResponders(err)) {
        if (Date.now() - started + delay < budget) {
          await sleep(delay);
          delay = Math.min(delay * 2, 250);
          continue;
        }
        throw Errors.ServiceUnavailable.create(undefined, { service: serviceOf(subject) });
      }
      if (err instanceof natsErrors.TimeoutError) {
        throw Errors.Timeout.create(undefined, { service: serviceOf(subject) });
      }
      if (
        err instanceof natsErrors.ClosedConnectionError ||
        err instanceof natsErrors.DrainingConnectionError
      ) {
        throw Errors.ServiceUnavailable.create(undefined, { service: "nats" });
      }
      throw err;
    }
  }
}

/** Like `callRaw`, returning only the data. */
export async function call<T = unknown>(
  nc: NatsConnection,
  subject: string,
  payload: unknown,
  opts: CallOptions = {},
): Promise<T> {
  return (await callRaw<T>(nc, subject, payload, opts)).data;
}
