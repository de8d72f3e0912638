/** The wg-agent's environment: one zod schema, parsed once (see proto's BaseEnv for the shared part). */
import { join } from "node:path";
import { BaseEnv } from "@edgeplane/proto";
import { z } from "zod";

const flag = (def: boolean) =>
  z
    .enum(["true", "false", "1", "0"])
    .default(def ? "true" : "false")
    .transform((v) => v === "true" || v === "1");

export const WgAgentEnv = BaseEnv.extend({
  EP_WG_MODE: z
    .enum(["auto", "wireguard-go", "render-only"])
    .default("auto")
    .describe(
      "How to drive WireGuard: `wireguard-go` (needs root, fails otherwise), `render-only` (store and render, install nothing), `auto` (wireguard-go when possible, else render-only, said in the log and in status).",
    ),
  EP_WG_NODE: flag(true).describe("Serve the interfaces that list this node (EP_NODE_NAME)."),
  EP_WG_API: flag(true).describe("Answer the WireGuard API routes (queue group over every agent)."),
  EP_WG_NETNS: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional()
    .describe("Network namespace the devices are created in (default: the agent's own)."),
  EP_WG_DEVICE_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]{0,10}$/)
    .default("")
    .describe(
      "Prefix of Linux device names (`<prefix><interface>`, ≤ 15 chars). wireguard-go's sockets are machine-wide, so two agents on one machine need different prefixes.",
    ),
  EP_WG_STATE_DIR: z
    .string()
    .optional()
    .describe("Where the node keeps its private keys (default $EP_DATA_DIR/wg)."),
  EP_DATA_DIR: z.string().optional().describe("Data directory (set by the launcher)."),
  EP_WG_BIN: z.string().default("wireguard-go").describe("The wireguard-go executable."),
  EP_WG_ENDPOINT_HOST: z
    .string()
    .optional()
    .describe("This node's public host, if not the interface's endpoint_host."),
  EP_SEALING_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, "must be 32 bytes, base64")
    .optional()
    .describe("Seals stored private keys (AES-256-GCM). Without it, store_private_key is refused."),
  EP_WG_DEFAULT_INTERFACE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,14}$/)
    .default("wg0")
    .describe("Interface behind PIC's compatibility paths (/api/peers…)."),
  EP_WG_CONFIRM_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(5000)
    .describe("How long a mutation waits for every serving node to confirm."),
  EP_WG_STATS_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(10_000)
    .describe("Peer-stats sampling period; 0 = off."),
  EP_WG_LINK_TTL_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(900)
    .describe("One-time link lifetime."),
});
export type WgAgentEnv = z.infer<typeof WgAgentEnv>;

export function stateDirOf(c: Pick<WgAgentEnv, "EP_WG_STATE_DIR" | "EP_DATA_DIR">): string {
  return c.EP_WG_STATE_DIR ?? join(c.EP_DATA_DIR ?? "/var/lib/edgeplane", "wg");
}
