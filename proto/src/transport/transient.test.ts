/** transport - bus failures become retryable 503s, answers and bugs do not. */
import { JetStreamApiError } from "@nats-io/jetstream";
import { errors as natsErrors } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { busUnavailable, isTransientBusError } from "./transient.ts";

describe("transport - transient bus errors", () => {
  it("timeouts, no responders and closed connections are transient", () => {
    expect(isTransientBusError(new natsErrors.TimeoutError())).toBe(true);
    expect(isTransientBusError(new natsErrors.NoRespondersError("ep.v1.x"))).toBe(true);
    expect(isTransientBusError(new natsErrors.ClosedConnectionError())).toBe(true);
  });

  it("a JetStream API answer is transient only when the server is unavailable", () => {
    const unavailable = new JetStreamApiError({
      code: 503,
      err_code: 10008,
      description: "JetStream system temporarily unavailable",
    });
    const wrongSeq = new JetStreamApiError({
      code: 400,
      err_code: 10071,
      description: "wrong last sequence",
    });
    expect(isTransientBusError(unavailable)).toBe(true);
    expect(isTransientBusError(wrongSeq)).toBe(false);
  });

  it("ordinary errors are not, and the reply is a retryable 503", () => {
    expect(isTransientBusError(new TypeError("bug"))).toBe(false);
    const e = busUnavailable(new natsErrors.TimeoutError());
    expect(e.status).toBe(503);
    expect(e.code).toBe("bus_unavailable");
    expect(e.retry).toBe(true);
  });
});
