#!/usr/bin/env node
import { loadConfig } from "./config.ts";
/** Entry point of the gateway process. */
import { startTracing } from "./otel.ts";
import { startGateway } from "./server.ts";

const tracing = startTracing("ep-gateway");
try {
  const gw = await startGateway(loadConfig());
  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    gw.stop()
      .then(() => tracing.shutdown())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
} catch (err) {
  process.stderr.write(`gateway: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
