/**
 * @edgeplane/adapters — stateless vendor-device workers: controllers with sealed
 * credentials, live reads, and the staged-write pipeline (gates, commit-confirm,
 * rollback). It owns the `adapter_*` tables and talks to devices only through drivers.
 */
export { AdaptersEnv, loadConfig } from "./config.ts";
export { service, VERSION } from "./service.ts";
