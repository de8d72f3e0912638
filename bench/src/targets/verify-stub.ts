/**
 * A stand-in for the auth service's `verify` endpoint, for the WebSocket benchmark (no
 * PostgreSQL in bench runs): any key `ep_bench_<n>` is user `usr_bench<n>` with every
 * permission; anything else is refused with 401 like the real service. The gateway under
 * test is the real one and calls it through its real Authenticator.
 */
import {
  ALL_PERMS,
  connectNats,
  createLogger,
  createService,
  Errors,
  Subjects,
  VerifyRequest,
} from "@edgeplane/proto";
import { onStop, ready } from "./child.ts";

const servers = process.env.EP_NATS_URL;
if (!servers) throw new Error("EP_NATS_URL is required");
const log = createLogger("bench-verify", process.env.EP_LOG_LEVEL ?? "silent");
const nc = await connectNats({ servers, name: "bench-verify" });
const svc = await createService(nc, { name: "ep-auth", version: "0.0.0-bench", log });
svc.endpoint("verify", { subject: Subjects.auth.verify }, VerifyRequest, (req) => {
  const m = /^ep_bench_(\d{1,6})$/.exec(req.api_key);
  if (!m) throw Errors.InvalidCredentials.create();
  return {
    principal: {
      kind: "api_key" as const,
      user_id: `usr_bench${m[1]}`,
      username: `bench${m[1]}`,
      role: "owner",
      key_id: `key_bench${m[1]}`,
      permissions: [...ALL_PERMS],
    },
    cache_ttl_ms: 60_000,
  };
});
await nc.flush();
onStop(async () => {
  await svc.stop();
  await nc.drain();
});
ready({});
