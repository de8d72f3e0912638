/**
 * @edgeplane/auth — owns identity (users, API keys, setup) and, in PostgreSQL, the audit
 * log. It answers `verify` for gateways. It must not be called by anything but NATS.
 */
export { generateKey, hashKey, parseKey } from "./api-keys.ts";
export { AuthEnv, loadConfig } from "./config.ts";
export { authService, VERSION } from "./service.ts";
