/**
 * The real gateway with the default route table plus the bench echo route, started the
 * way services/gateway/src/main.ts starts it (tracing provider included). Config from
 * the environment the runner passes (EP_NATS_URL, EP_HTTP_PORT=0, EP_LOG_LEVEL=silent).
 */
import { loadConfig, startGateway } from "@edgeplane/gateway";
import { routes } from "@edgeplane/proto";
// Not exported by the package entry; main.ts starts it the same way.
import { startTracing } from "../../../services/gateway/src/otel.ts";
import { onStop, ready } from "./child.ts";
import { echoRoute } from "./echo-route.ts";

const tracing = startTracing("ep-gateway");
const gw = await startGateway(loadConfig(process.env), [...routes, echoRoute]);
onStop(async () => {
  await gw.stop();
  await tracing.shutdown();
});
ready({ url: `${gw.url}${echoRoute.path}` });
