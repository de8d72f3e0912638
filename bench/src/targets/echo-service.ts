/** The trivial service behind the gateway: answers `bench.echo` with `{message: "ok", instance}`. */
import { connectNats, createLogger, createService } from "@edgeplane/proto";
import { onStop, ready } from "./child.ts";
import { echoRoute } from "./echo-route.ts";

const servers = process.env.EP_NATS_URL;
if (!servers) throw new Error("EP_NATS_URL is required");
const instance = `bench-echo-${process.pid}`;
const log = createLogger("bench-echo", process.env.EP_LOG_LEVEL ?? "silent");
const nc = await connectNats({ servers, name: `bench-echo/${instance}` });
const svc = await createService(nc, { name: "ep-bench-echo", version: "0.1.0", log });
svc.route(echoRoute, () => ({ message: "ok" as const, instance }));
// The subscription is registered once the server has seen it.
await nc.flush();
onStop(async () => {
  await svc.stop();
  await nc.drain();
});
ready({ instance });
