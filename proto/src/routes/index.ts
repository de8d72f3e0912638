/** The HTTP route table: every route of the API, in one list. */

import { adaptersRoutes } from "./adapters.ts";
import { authRoutes } from "./auth.ts";
import { auditRoutes } from "./auth-audit.ts";
import { eventRoutes } from "./events.ts";
import { haproxyRoutes } from "./haproxy.ts";
import { haproxyCertRoutes } from "./haproxy-certs.ts";
import { haproxyLogRoutes } from "./haproxy-logs.ts";
import { haproxyRuntimeRoutes } from "./haproxy-runtime.ts";
import { localRoutes } from "./mesh.ts";
import type { RouteSpec } from "./route.ts";
import { meRoute, setupCompleteRoute, setupStatusRoute } from "./setup.ts";
import { statsRoutes } from "./stats.ts";
import { wireguardRoutes } from "./wireguard.ts";

export * from "./adapters.ts";
export * from "./auth.ts";
export * from "./auth-audit.ts";
export * from "./events.ts";
export * from "./haproxy.ts";
export * from "./haproxy-certs.ts";
export * from "./haproxy-logs.ts";
export * from "./haproxy-runtime.ts";
export * from "./mesh.ts";
export * from "./route.ts";
export * from "./setup.ts";
export * from "./stats.ts";
export * from "./wireguard.ts";

/** Every route, gateway-local ones included. Order is the docs' order. */
export const routes: readonly RouteSpec[] = Object.freeze([
  ...localRoutes,
  setupStatusRoute,
  setupCompleteRoute,
  meRoute,
  ...adaptersRoutes,
  ...authRoutes,
  ...auditRoutes,
  ...wireguardRoutes,
  ...eventRoutes,
  ...haproxyRoutes,
  ...haproxyRuntimeRoutes,
  ...haproxyLogRoutes,
  ...haproxyCertRoutes,
  ...statsRoutes,
]);
