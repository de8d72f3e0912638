/** Health and service-discovery shapes. */
import { z } from "zod";

export const Liveness = z
  .object({ status: z.literal("healthy").describe("Always `healthy` when the process answers.") })
  .describe("Liveness: the gateway process is up.");

export const Readiness = z
  .object({
    status: z
      .enum(["ready", "not_ready"])
      .describe("`ready` when NATS is connected and every required service answers."),
    nats: z.boolean().describe("Whether this gateway is connected to NATS."),
    services: z
      .record(z.string(), z.boolean())
      .describe("Required service name → whether at least one instance answered a ping."),
  })
  .describe("Readiness of this gateway to serve API requests.");

export const EndpointStats = z
  .object({
    name: z.string().describe("Endpoint name."),
    subject: z.string().describe("Subject it listens on."),
    queue_group: z.string().optional().describe("Queue group it shares with other instances."),
    num_requests: z.number().int().describe("Requests handled by this instance."),
    num_errors: z.number().int().describe("Requests answered with an error."),
    average_processing_time_ms: z.number().describe("Mean handler time in milliseconds."),
  })
  .describe("Per-endpoint statistics of one service instance.");

export const ServiceInstance = z
  .object({
    name: z.string().describe("Service name (e.g. `ep-auth`)."),
    id: z.string().describe("Instance id, unique per process."),
    version: z.string().describe("Service version."),
    started: z.string().describe("Start time (ISO 8601)."),
    uptime_s: z.number().describe("Seconds since start."),
    metadata: z.record(z.string(), z.string()).describe("Instance metadata (host, node, pid…)."),
    endpoints: z.array(EndpointStats).describe("Endpoint statistics."),
  })
  .describe("One running service instance, as found by NATS service discovery.");

export const MeshHealth = z
  .object({
    status: z.enum(["healthy", "degraded"]).describe("`degraded` when a required service has no instance."),
    nats: z
      .object({
        connected: z.boolean().describe("Whether this gateway is connected."),
        server: z.string().optional().describe("Server this gateway is connected to."),
        rtt_ms: z.number().optional().describe("Round trip to the server in ms."),
      })
      .describe("This gateway's NATS connection."),
    services: z.array(ServiceInstance).describe("Every service instance that answered discovery."),
  })
  .describe("Every service instance of the mesh.");

export const EchoRequest = z
  .object({ message: z.string().max(1024).optional().describe("Text to echo back.") })
  .describe("Echo request (diagnostics and benchmarks).");
export const EchoReply = z
  .object({
    message: z.string().describe("The echoed text."),
    instance: z.string().describe("Id of the instance that answered."),
  })
  .describe("Echo reply.");
