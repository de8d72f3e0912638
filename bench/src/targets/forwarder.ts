/**
 * The floor of the gateway's design, for the gateway benchmark: bare Fastify whose one
 * route makes one NATS request to the same echo service through the mesh's own requester
 * (proto/src/transport/requester.ts) and returns the reply's data. No authentication,
 * request ids, security headers, metrics, trace context or validation: what a gateway
 * that did nothing but forward would cost on this machine.
 */
import { connectNats, decodeJson, encodeJson } from "@edgeplane/proto";
import { headers as natsHeaders } from "@nats-io/transport-node";
import Fastify from "fastify";
// Not exported by the package entry (callRaw wraps it); the floor uses it directly.
import { requesterFor } from "../../../proto/src/transport/requester.ts";
import { onStop, ready } from "./child.ts";
import { echoRoute } from "./echo-route.ts";

const servers = process.env.EP_NATS_URL;
if (!servers) throw new Error("EP_NATS_URL is required");
const nc = await connectNats({ servers, name: `bench-forwarder/${process.pid}` });
const requester = requesterFor(nc);
// The payload shape the service's route schema expects (what the gateway sends for a GET).
const payload = () => encodeJson({ params: {}, query: {}, headers: {} });

const app = Fastify({ logger: false });
app.get("/echo", async () => {
  const msg = await requester.request(echoRoute.subject as string, payload(), {
    timeout: 5000,
    headers: natsHeaders(),
  });
  return (decodeJson(msg.data) as { data: unknown }).data;
});
await app.listen({ port: 0, host: "127.0.0.1" });
const addr = app.server.address();
const port = typeof addr === "object" && addr ? addr.port : 0;
onStop(async () => {
  await app.close();
  await nc.drain();
});
ready({ url: `http://127.0.0.1:${port}/echo` });
