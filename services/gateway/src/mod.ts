/**
 * @edgeplane/gateway — the thin HTTP edge. It authenticates, authorises, rate-limits,
 * validates and forwards every route of the proto route table to its NATS subject. It
 * holds no domain logic and no database connection.
 */
export { buildGateway, type Gateway, type GatewayDeps } from "./app.ts";
export { type GatewayConfig, GatewayEnv, loadConfig } from "./config.ts";
export { startTracing } from "./otel.ts";
export { type RunningGateway, startGateway } from "./server.ts";
