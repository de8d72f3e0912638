/**
 * The adapters service definition. The mesh foundation registers it for discovery and
 * health; its domain endpoints are added by their own issues.
 */
import { BaseEnv, type RunServiceOptions, ServiceName } from "@edgeplane/proto";

export const VERSION = "0.1.0";

export const service: RunServiceOptions<typeof BaseEnv> = {
  name: ServiceName.Adapters,
  version: VERSION,
  description: "Vendor device adapters",
  env: BaseEnv,
  async setup() {},
};
