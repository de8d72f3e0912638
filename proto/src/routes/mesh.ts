/** Routes the gateway answers itself (health, docs) and the mesh diagnostics. */
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import { Liveness, MeshHealth, Readiness } from "../schemas/mesh.ts";
import { defineRoute } from "./route.ts";

export const healthRoute = defineRoute({
  id: "health.liveness",
  method: "GET",
  path: "/health",
  aliases: ["/api/v1/health/live"],
  summary: "Liveness probe",
  description: "Answers 200 while the gateway process is up. No authentication, never rate-limited.",
  tags: ["health"],
  auth: "public",
  rateClass: "none",
  reply: Liveness,
});

export const readinessRoute = defineRoute({
  id: "health.readiness",
  method: "GET",
  path: "/api/v1/health/ready",
  summary: "Readiness probe",
  description: "200 when NATS is connected and every required service answers a ping; 503 otherwise.",
  tags: ["health"],
  auth: "public",
  rateClass: "none",
  reply: Readiness,
  errors: [Errors.ServiceUnavailable],
});

export const meshHealthRoute = defineRoute({
  id: "health.mesh",
  method: "GET",
  path: "/api/v1/health",
  summary: "Every service instance of the mesh",
  description:
    "Gathered with NATS service discovery: name, id, version, uptime and endpoint stats of every instance.",
  tags: ["health"],
  auth: "principal",
  permission: Perm.MeshRead,
  rateClass: "none",
  reply: MeshHealth,
  errors: [Errors.Unauthenticated, Errors.Forbidden],
});

/** Gateway-local routes: no subject, answered by the gateway itself. */
export const localRoutes = [healthRoute, readinessRoute, meshHealthRoute] as const;
