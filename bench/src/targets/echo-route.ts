/** The route the gateway benchmark forwards: public, no params, a tiny reply. */
import { defineRoute } from "@edgeplane/proto";
import { z } from "zod";

export const EchoReply = z.object({
  message: z.literal("ok").describe("Always `ok`."),
  instance: z.string().describe("Which bench service instance answered."),
});

export const echoRoute = defineRoute({
  id: "bench.echo",
  method: "GET",
  path: "/api/v1/bench/echo",
  summary: "Benchmark echo",
  description: "Answered by the bench echo service; used to measure the gateway → NATS → service round trip.",
  tags: ["bench"],
  auth: "public",
  rateClass: "none",
  subject: "ep.v1.bench.echo",
  reply: EchoReply,
});
