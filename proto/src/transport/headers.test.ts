/** transport - request meta headers survive the wire; a malformed principal is dropped. */
import { headers as natsHeaders } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import type { Principal } from "../schemas/common.ts";
import { decodeMeta, encodeMeta, Header } from "./headers.ts";
import { inServerSpan } from "./trace.ts";

const principal: Principal = {
  kind: "api_key",
  user_id: "usr_1",
  username: "ops",
  role: "admin",
  key_id: "key_1",
  permissions: ["haproxy:read"],
};

describe("transport - meta headers", () => {
  it("every field round-trips", () => {
    const meta = {
      principal,
      requestId: "req_abc",
      sourceIp: "10.0.0.1",
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      tracestate: "ven=1",
    };
    expect(decodeMeta(encodeMeta(meta))).toEqual(meta);
    expect(decodeMeta(encodeMeta({}))).toEqual({});
    expect(decodeMeta(undefined)).toEqual({});
  });

  it("a principal that is not JSON, or not a principal, is anonymous", () => {
    for (const bad of ["{not json", JSON.stringify({ ...principal, role: "god" })]) {
      const h = natsHeaders();
      h.set(Header.Principal, bad);
      h.set(Header.RequestId, "req_x");
      expect(decodeMeta(h)).toEqual({ requestId: "req_x" });
    }
  });

  it("names match exactly, as get() does", () => {
    const h = natsHeaders();
    h.set("EP-Request-Id", "req_upper");
    h.set("other", "x");
    expect(decodeMeta(h)).toEqual({});
  });

  it("without an SDK a server span is a no-op that still runs the handler", async () => {
    await expect(
      inServerSpan("s", { traceparent: "00-x" }, async (span) => span.isRecording()),
    ).resolves.toBe(false);
    await expect(inServerSpan("s", {}, async () => Promise.reject(new Error("boom")))).rejects.toThrow(
      "boom",
    );
  });
});
