/** Settings of the WebSocket event stream (part of the gateway's one environment). */
import { z } from "zod";

const int = (min: number, max: number, def: number, what: string) =>
  z.coerce.number().int().min(min).max(max).default(def).describe(what);

export const WsEnv = z.object({
  EP_WS_MAX_CONNECTIONS: int(
    1,
    1_000_000,
    5_000,
    "WebSocket connections per gateway instance (then close 1013).",
  ),
  EP_WS_MAX_PER_PRINCIPAL: int(
    1,
    10_000,
    25,
    "WebSocket connections per user, on this instance (then close 1013).",
  ),
  EP_WS_MAX_SUBSCRIPTIONS: int(1, 10_000, 200, "Topics one connection may subscribe to (then close 1013)."),
  EP_WS_AUTH_TIMEOUT_MS: int(100, 60_000, 5_000, "Time for the first `auth` frame (then close 1008)."),
  EP_WS_HEARTBEAT_MS: int(
    100,
    300_000,
    30_000,
    "Ping interval; a connection that missed a pong is terminated.",
  ),
  EP_WS_REVERIFY_MS: int(
    1_000,
    24 * 3600_000,
    300_000,
    "How often an open connection's credential is verified again (expired tokens close with 1008).",
  ),
  EP_WS_MAX_BUFFER_BYTES: int(
    16 * 1024,
    256 * 1024 * 1024,
    1024 * 1024,
    "Per-connection send buffer; a slow consumer over it is closed (1013).",
  ),
  EP_WS_MAX_PENDING: int(
    16,
    1_000_000,
    10_000,
    "Live events held per connection while it replays; beyond that it is closed (1013).",
  ),
  EP_WS_RING_SIZE: int(
    0,
    1_000_000,
    10_000,
    "Recent events kept in memory to serve replays without JetStream.",
  ),
  EP_WS_RING_BYTES: int(
    0,
    4 * 1024 * 1024 * 1024,
    32 * 1024 * 1024,
    "Memory cap of that ring (frames + stored JSON); the oldest events leave first.",
  ),
  EP_WS_COALESCE_MS: int(
    0,
    1000,
    20,
    "Upper bound on the spacing of fan-outs (connections/250 ms): close events then share a socket write.",
  ),
  EP_WS_MAX_FRAME_BYTES: int(256, 1024 * 1024, 64 * 1024, "Largest client frame accepted."),
});
export type WsConfig = Readonly<z.infer<typeof WsEnv>>;
