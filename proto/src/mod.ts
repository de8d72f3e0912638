/**
 * @edgeplane/proto — the single source of truth for the wire: subjects, zod schemas of
 * every request, reply and event, the error catalogue, permissions, the HTTP route table,
 * and the small typed transport (`serve`/`call`) every service uses. It holds no domain
 * logic and opens no connection by itself.
 */
export * from "./errors.ts";
export * from "./ids.ts";
export * from "./log.ts";
export * from "./names.ts";
export * from "./perms.ts";
export * from "./routes/index.ts";
export * from "./runtime/config.ts";
export * from "./runtime/database.ts";
export * from "./runtime/nats.ts";
export * from "./runtime/service.ts";
export * from "./schemas/adapters.ts";
export * from "./schemas/adapters-vendors.ts";
export * from "./schemas/audit.ts";
export * from "./schemas/auth.ts";
export * from "./schemas/common.ts";
export * from "./schemas/events.ts";
export * from "./schemas/events-access.ts";
export * from "./schemas/events-ws.ts";
export * from "./schemas/haproxy/mod.ts";
export * from "./schemas/mesh.ts";
export * from "./schemas/setup.ts";
export * from "./schemas/stats.ts";
export * from "./schemas/wireguard/mod.ts";
export * from "./subjects.ts";
export * from "./transport/mod.ts";
export * from "./validation.ts";
