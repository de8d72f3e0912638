/**
 * gateway - the trace context forwarded without a span (spans not exported) is the one
 * the SDK's server span would have forwarded: same trace, flags and tracestate, a new
 * span id; a new sampled trace when the caller sent none or an invalid one.
 */
import { childTraceHeaders, currentTraceHeaders, inServerSpan } from "@edgeplane/proto";
import { afterAll, describe, expect, it } from "vitest";
import { startTracing } from "./otel.ts";

const tracing = startTracing("trace-context-test", {});
afterAll(() => tracing.shutdown());

type Ctx = { traceparent?: string; tracestate?: string };
const viaSdk = (incoming: Ctx) => inServerSpan("GET /x", incoming, async () => currentTraceHeaders());
const PARENT = "00f067aa0ba902b7";
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SHAPE = /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/;

const cases: [string, Ctx][] = [
  ["sampled parent", { traceparent: `00-${TRACE}-${PARENT}-01` }],
  ["unsampled parent", { traceparent: `00-${TRACE}-${PARENT}-00` }],
  ["other flag bits", { traceparent: `00-${TRACE}-${PARENT}-03` }],
  ["with tracestate", { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: "ven=abc,other=1" }],
  ["future version with extra fields", { traceparent: `01-${TRACE}-${PARENT}-01-extra` }],
  ["version 00 with extra fields", { traceparent: `00-${TRACE}-${PARENT}-01-extra` }],
  ["version ff", { traceparent: `ff-${TRACE}-${PARENT}-01` }],
  ["zero trace id", { traceparent: `00-${"0".repeat(32)}-${PARENT}-01` }],
  ["zero span id", { traceparent: `00-${TRACE}-${"0".repeat(16)}-01` }],
  ["upper case", { traceparent: `00-${TRACE.toUpperCase()}-${PARENT}-01` }],
  ["garbage", { traceparent: "not a trace", tracestate: "ven=abc" }],
  ["none", {}],
];

describe("gateway - trace context without spans", () => {
  for (const [name, incoming] of cases) {
    it(`${name}: as the SDK forwards it`, async () => {
      const sdk = await viaSdk(incoming);
      const light = childTraceHeaders(incoming);
      expect(light.traceparent).toMatch(SHAPE);
      expect(sdk.traceparent).toMatch(SHAPE);
      const [, sdkTrace, sdkSpan, sdkFlags] = (sdk.traceparent as string).split("-");
      const [, lightTrace, lightSpan, lightFlags] = (light.traceparent as string).split("-");
      expect(lightFlags).toBe(sdkFlags);
      expect(light.tracestate).toBe(sdk.tracestate);
      expect(lightSpan).not.toBe(PARENT);
      expect(lightSpan).not.toBe(sdkSpan);
      const continued = sdkTrace === TRACE;
      expect(lightTrace === TRACE).toBe(continued);
      if (!continued) expect(lightTrace).not.toBe(sdkTrace);
    });
  }
});
