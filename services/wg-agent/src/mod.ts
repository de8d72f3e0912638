/** @edgeplane/wg-agent — WireGuard gateway agent. */
export { service, VERSION } from "./service.ts";
