/** Bare Fastify baseline: `GET /echo` answers a small JSON object, nothing else registered. */
import Fastify from "fastify";
import { onStop, ready } from "./child.ts";

const instance = `bare-${process.pid}`;
const app = Fastify({ logger: false });
app.get("/echo", async () => ({ message: "ok", instance }));
await app.listen({ port: 0, host: "127.0.0.1" });
const addr = app.server.address();
const port = typeof addr === "object" && addr ? addr.port : 0;
onStop(() => app.close());
ready({ url: `http://127.0.0.1:${port}/echo` });
