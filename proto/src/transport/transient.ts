/**
 * Failures of the bus itself — a request or KV read timing out while a replicated stream
 * elects a new leader, a connection closing mid-reconnect — are not bugs of the handler
 * that met them: a retry outlives them. Handlers let them propagate; `serve` answers them
 * as a retryable 503 `bus_unavailable` (which the gateway retries for reads, with backoff)
 * instead of a 500.
 */
import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { errors as natsErrors } from "@nats-io/transport-node";
import { type EpError, Errors } from "../errors.ts";

/** JetStream's "temporarily unavailable" (no leader yet). */
const JS_TEMPORARILY_UNAVAILABLE = 10008;

export function isTransientBusError(err: unknown): boolean {
  if (
    err instanceof natsErrors.TimeoutError ||
    err instanceof natsErrors.NoRespondersError ||
    err instanceof natsErrors.RequestError ||
    err instanceof natsErrors.ClosedConnectionError ||
    err instanceof natsErrors.DrainingConnectionError ||
    err instanceof natsErrors.ConnectionError
  ) {
    return true;
  }
  // API errors are answers: only server-side unavailability is transient (a missing
  // stream or a wrong sequence is not).
  if (err instanceof JetStreamApiError) return err.status >= 500 || err.code === JS_TEMPORARILY_UNAVAILABLE;
  // Other JetStream errors are client-side failures to get an answer (heartbeats missed,
  // status 503/408 from the API subject): the bus, not the request.
  return err instanceof JetStreamError;
}

/** The retryable error a transient bus failure is answered with. */
export function busUnavailable(err: unknown): EpError {
  return Errors.BusUnavailable.create({ cause: err instanceof Error ? err.name : "unknown" });
}
